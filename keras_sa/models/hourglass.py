"""The stacked hourglass network (SHN / SA-SHN) as a Keras functional model."""

import keras
from keras import layers

from keras_sa.layers import SkipAttention


def _conv_block(x, filters, kernel, name):
    """Conv -> BatchNorm -> ReLU; the bias is left out since BatchNorm has one."""
    x = layers.Conv2D(filters, kernel, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _hourglass(x, config, level, prefix):
    """One hourglass level; recurses to the bottleneck.

    The skip branch (one 3x3 conv of the level's input) is the encoder-side
    map E; the up-sampled output of the deeper levels is the decoder-side map
    D. Their merge is what SkipAttention replaces.
    """
    channels = config.channels
    name = f"{prefix}_level{level}"
    low = layers.MaxPooling2D(2, name=f"{name}_pool")(x)
    low = _conv_block(low, channels[level + 1], 3, f"{name}_down")
    if level + 1 < config.depth:
        low = _hourglass(low, config, level + 1, prefix)
    else:
        low = _conv_block(low, channels[level + 1], 3, f"{prefix}_bottleneck")
    low = _conv_block(low, channels[level], 3, f"{name}_up")
    decoder = layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_upsample")(low)
    if config.merge == "none":
        return decoder
    encoder = _conv_block(x, channels[level], 3, f"{name}_skip")
    if config.uses_attention(level):
        attention = SkipAttention(
            key_dim=config.attention_key_dim,
            num_heads=config.attention_heads,
            name=f"{name}_attention",
        )
        return attention(encoder, decoder)
    return layers.Add(name=f"{name}_add")([encoder, decoder])


def build_hourglass_model(config, frames="patch"):
    """Build the functional SHN / SA-SHN model described by ``config``.

    Args:
        config: a :class:`keras_sa.models.ModelConfig`.
        frames: number of STFT frames in the input. ``"patch"`` (the default)
            uses ``config.signal.patch_frames``; ``None`` leaves the time axis
            open, for whole-song inference (any multiple of ``2**depth``).

    Returns:
        A ``keras.Model`` that maps model input features
        ``(batch, frames, n_bins, 1)`` to a list with one mask tensor
        ``(batch, frames, n_bins, n_sources)`` per stack; the last stack's
        masks are the model's answer, the others serve deep supervision.
    """
    signal = config.signal
    if frames == "patch":
        frames = signal.patch_frames
    inputs = keras.Input((frames, signal.n_bins, 1), name="features")

    x = inputs
    for index, filters in enumerate(config.stem_channels):
        kernel = config.stem_kernel if index == 0 else 3
        x = _conv_block(x, filters, kernel, f"stem{index}")
    if config.stem_channels[-1] != config.channels[0]:
        x = _conv_block(x, config.channels[0], 1, "stem_projection")

    outputs = []
    width = config.channels[0]
    for stack in range(config.num_stacks):
        prefix = f"stack{stack}"
        features = _hourglass(x, config, 0, prefix)
        features = _conv_block(features, width, 3, f"{prefix}_post")
        features = _conv_block(features, width, 1, f"{prefix}_features")
        masks = layers.Conv2D(
            len(signal.sources), 1, activation=config.mask_activation, name=f"{prefix}_masks"
        )(features)
        outputs.append(masks)
        if stack + 1 < config.num_stacks:
            # The next stack sees this stack's input, features and predictions.
            x = layers.Add(name=f"{prefix}_merge")(
                [
                    x,
                    layers.Conv2D(width, 1, name=f"{prefix}_features_out")(features),
                    layers.Conv2D(width, 1, name=f"{prefix}_masks_out")(masks),
                ]
            )
    return keras.Model(inputs, outputs, name=config.name)


def count_macs(model):
    """Multiply-accumulates of one forward pass of ``model`` at batch size 1.

    Counts convolutions and SkipAttention; batch normalization (folded into
    the convolutions at inference), activations, pooling and additions are
    left out. The model's input shape must be fully known.
    """
    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            _, height, width, out_channels = layer.output.shape
            in_channels = layer.input.shape[-1]
            kh, kw = layer.kernel_size
            total += height * width * kh * kw * in_channels * out_channels
        elif isinstance(layer, SkipAttention):
            total += layer.compute_macs(layer.output.shape)
    return int(total)
