import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_sa.layers import SkipAttention


def naive_skip_attention(encoder, decoder, layer, mask=None):
    """Equations (2)-(6) written frame by frame with plain numpy loops."""
    weights = {w.path.split("/")[-1]: keras.ops.convert_to_numpy(w) for w in layer.weights}
    wq, wk, wv = weights["query_kernel"], weights["key_kernel"], weights["value_kernel"]
    batch, frames, bins, channels = decoder.shape
    heads = layer.num_heads
    kd = wq.shape[1] // heads
    vd = channels // heads
    out = np.zeros_like(decoder, dtype=np.float64)
    for b in range(batch):
        for h in range(frames):
            d_h = decoder[b, h].astype(np.float64)
            e_h = encoder[b, h].astype(np.float64)
            stacked = np.concatenate([d_h, e_h], axis=0)  # [D_h; E_h], 2F x d
            q = d_h @ wq  # (2)
            k = stacked @ wk  # (3)
            v = stacked @ wv  # (4)
            sa = np.zeros((bins, channels))
            for head in range(heads):
                qh = q[:, head * kd : (head + 1) * kd]
                kh = k[:, head * kd : (head + 1) * kd]
                vh = v[:, head * vd : (head + 1) * vd]
                scores = qh @ kh.T / np.sqrt(kd)  # (5), F x 2F
                if mask is not None:
                    scores = np.where(mask[b, h], scores, -np.inf)
                scores = scores - scores.max(axis=1, keepdims=True)
                probs = np.exp(scores)
                probs /= probs.sum(axis=1, keepdims=True)
                sa[:, head * vd : (head + 1) * vd] = probs @ vh  # (6)
            x = sa + e_h
            mean = x.mean(axis=1, keepdims=True)
            var = x.var(axis=1, keepdims=True)
            normed = (x - mean) / np.sqrt(var + layer.epsilon)
            out[b, h] = d_h + normed * weights["gamma"] + weights["beta"]
    return out


def random_pair(shape, seed):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=shape).astype("float32"),
        rng.normal(size=shape).astype("float32"),
    )


@pytest.mark.parametrize(
    "shape,kwargs",
    [
        ((2, 3, 8, 4), {}),
        ((1, 5, 16, 8), {"key_dim": 3}),
        ((2, 2, 6, 8), {"num_heads": 2}),
        ((1, 4, 32, 6), {"use_bias": False, "epsilon": 1e-5}),
    ],
)
def test_matches_naive_equations(shape, kwargs):
    encoder, decoder = random_pair(shape, seed=sum(shape))
    layer = SkipAttention(**kwargs)
    output = keras.ops.convert_to_numpy(layer(encoder, decoder))
    # Non-trivial norm parameters, so gamma and beta are checked too.
    rng = np.random.default_rng(0)
    layer.gamma.assign(rng.normal(size=layer.gamma.shape).astype("float32"))
    layer.beta.assign(rng.normal(size=layer.beta.shape).astype("float32"))
    output = keras.ops.convert_to_numpy(layer(encoder, decoder))
    expected = naive_skip_attention(encoder, decoder, layer)
    assert output.shape == decoder.shape
    np.testing.assert_allclose(output, expected, atol=2e-4, rtol=1e-4)


def test_masked_scores_get_zero_weight():
    encoder, decoder = random_pair((2, 3, 8, 4), seed=1)
    rng = np.random.default_rng(2)
    mask = rng.random((2, 3, 8, 16)) > 0.5
    mask[..., 0] = True  # every row keeps at least one key
    layer = SkipAttention()
    output, weights = layer(encoder, decoder, attention_mask=mask, return_attention_scores=True)
    weights = keras.ops.convert_to_numpy(weights)[:, :, 0]
    assert np.all(weights[~mask] == 0.0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    expected = naive_skip_attention(encoder, decoder, layer, mask=mask)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(output), expected, atol=2e-4)


def test_masking_out_the_encoder_changes_only_through_attention():
    """Masking all encoder keys makes SA a decoder self-attention."""
    encoder, decoder = random_pair((1, 2, 8, 4), seed=3)
    layer = SkipAttention()
    mask = np.zeros((1, 2, 8, 16), dtype=bool)
    mask[..., :8] = True
    _, weights = layer(encoder, decoder, attention_mask=mask, return_attention_scores=True)
    assert np.all(keras.ops.convert_to_numpy(weights)[..., 8:] == 0.0)


def test_gradients_reach_inputs_and_weights():
    encoder, decoder = random_pair((2, 2, 8, 4), seed=4)
    layer = SkipAttention(use_bias=True)
    encoder, decoder = tf.Variable(encoder), tf.Variable(decoder)
    with tf.GradientTape() as tape:
        # A non-symmetric objective: a plain sum has zero gradient through a normalization.
        output = layer(encoder, decoder)
        loss = tf.reduce_sum(tf.square(output) * tf.range(4, dtype=tf.float32))
    grads = tape.gradient(loss, [encoder, decoder] + layer.trainable_weights)
    assert len(layer.trainable_weights) == 8  # 3 kernels, 3 biases, gamma, beta
    for grad in grads:
        assert grad is not None
        assert float(tf.reduce_max(tf.abs(grad))) > 0.0


def test_keras_file_round_trip(tmp_path):
    encoder_in = keras.Input((4, 8, 6))
    decoder_in = keras.Input((4, 8, 6))
    out = SkipAttention(key_dim=5, num_heads=2, dropout=0.1, name="sa")(encoder_in, decoder_in)
    model = keras.Model([encoder_in, decoder_in], out)
    encoder, decoder = random_pair((3, 4, 8, 6), seed=5)
    before = model.predict([encoder, decoder], verbose=0)
    path = tmp_path / "sa.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded.predict([encoder, decoder], verbose=0), before)
    config = loaded.get_layer("sa").get_config()
    assert (config["key_dim"], config["num_heads"], config["dropout"]) == (5, 2, 0.1)
    assert SkipAttention.from_config(config).get_config() == config


def test_compute_output_shape_and_validation():
    layer = SkipAttention()
    assert layer.compute_output_shape((None, 4, 8, 6), (None, 4, 8, 6)) == (None, 4, 8, 6)
    with pytest.raises(ValueError, match="differ"):
        SkipAttention()(np.zeros((1, 2, 8, 4)), np.zeros((1, 2, 4, 4)))
    with pytest.raises(ValueError, match="heads"):
        SkipAttention(num_heads=3)(np.zeros((1, 2, 8, 4)), np.zeros((1, 2, 8, 4)))
    with pytest.raises(ValueError):
        SkipAttention(num_heads=0)


def test_trains_with_fit_on_tf_data():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4, 16, 1))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    low = keras.layers.MaxPooling2D(2)(x)
    low = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(low)
    up = keras.layers.UpSampling2D(2)(low)
    merged = SkipAttention()(x, up)
    outputs = keras.layers.Conv2D(1, 1)(merged)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(6)
    x_data = rng.random((64, 4, 16, 1)).astype("float32")
    y_data = np.roll(x_data, 3, axis=2) * 0.5  # needs information from other bins
    dataset = tf.data.Dataset.from_tensor_slices((x_data, y_data)).batch(8).repeat()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mae")
    history = model.fit(dataset, steps_per_epoch=8, epochs=4, verbose=0, shuffle=False)  # the dataset shuffles
    losses = history.history["loss"]
    assert losses[-1] < 0.7 * losses[0]
