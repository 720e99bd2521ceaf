import keras
import numpy as np
import pytest

from keras_sa import models
from keras_sa.audio import load_audio, model_input, stft
from keras_sa.cli.info import PHONE_GMAC_PER_SECOND, PHONE_PARAMS
from keras_sa.layers import SkipAttention

from configs import SMALL_TWO_STACKS


@pytest.fixture(scope="module")
def mir1k_patch(mir1k_root):
    """Model input of a real MIR-1K mixture patch at 16 kHz."""
    vocals, _ = load_audio(mir1k_root / "Ani_1_01" / "vocals.opus", sample_rate=16000)
    accompaniment, _ = load_audio(mir1k_root / "Ani_1_01" / "accompaniment.opus", sample_rate=16000)
    return (vocals[0] + accompaniment[0]) / 2


def features_of(mixture, signal):
    spectrum = stft(mixture, signal)[: signal.patch_frames, : signal.n_bins]
    features, _ = model_input(np.abs(spectrum), signal)
    return features[np.newaxis, ..., np.newaxis].astype("float32")


@pytest.mark.parametrize("name", sorted(models.PRESETS))
def test_presets_build_and_run_on_real_audio(name, mir1k_patch):
    config = models.get_preset(name)
    model = models.build(name)
    params = model.count_params()
    macs = models.count_macs(model)
    per_second = macs * config.signal.frames_per_second / config.signal.window_hop
    print(f"{name}: {params / 1e6:.2f} M parameters, {per_second / 1e9:.2f} GMAC/s")
    mixture = mir1k_patch
    if config.signal.sample_rate != 16000:
        from keras_sa.audio import resample

        mixture = resample(mixture[np.newaxis], 16000, config.signal.sample_rate)[0]
    outputs = model.predict(features_of(mixture, config.signal), verbose=0)
    assert len(outputs) == config.num_stacks
    for masks in outputs:
        assert masks.shape == (1, config.signal.patch_frames, config.signal.n_bins, 2)
        assert np.all(np.isfinite(masks)) and np.all(masks >= 0)
    if name.endswith("mobile"):
        assert params <= PHONE_PARAMS and per_second <= PHONE_GMAC_PER_SECOND * 1e9
    else:
        assert 30e6 < params < 40e6


def test_paper_preset_matches_the_shn_size():
    """About 34 M parameters and 260 GMAC per second of audio (SPEC)."""
    model = models.build("shn_paper")
    config = models.get_preset("shn_paper")
    per_second = models.count_macs(model) * config.signal.frames_per_second / config.signal.window_hop
    assert abs(model.count_params() - 34e6) < 1e6
    assert 240e9 < per_second < 280e9


def layer_kinds(model):
    return {layer.name: type(layer).__name__ for layer in model.layers}


def test_merge_variants_differ_only_at_the_merges():
    attention = layer_kinds(models.build(SMALL_TWO_STACKS))
    add = layer_kinds(models.build(SMALL_TWO_STACKS.replace(merge="add")))
    none = layer_kinds(models.build(SMALL_TWO_STACKS.replace(merge="none")))
    merges = {n for n in attention if n.endswith("_attention")}
    assert merges == {f"stack{s}_level{l}_attention" for s in range(2) for l in range(2)}
    assert {n for n in add if n.endswith("_add")} == {m.replace("_attention", "_add") for m in merges}
    shared = set(attention) - merges
    assert shared == set(add) - {m.replace("_attention", "_add") for m in merges}
    # "none" drops the merge and the skip branch that fed it, nothing else.
    skips = {n for n in attention if "_skip_" in n}
    assert set(none) == shared - skips
    for name in set(none):
        assert none[name] == attention[name] == add[name]


def test_attention_levels_select_where_skip_attention_goes():
    model = models.build(SMALL_TWO_STACKS.replace(attention_levels=(1,)))
    placed = sorted(l.name for l in model.layers if isinstance(l, SkipAttention))
    assert placed == ["stack0_level1_attention", "stack1_level1_attention"]
    adds = sorted(l.name for l in model.layers if l.name.endswith("_add"))
    assert adds == ["stack0_level0_add", "stack1_level0_add"]


def test_attention_replaces_the_add_merge_in_the_same_positions():
    """With the same weights elsewhere, the variants give different masks."""
    inputs = np.random.default_rng(0).random((2, 16, 64, 1)).astype("float32")
    attention = models.build(SMALL_TWO_STACKS)
    add = models.build(SMALL_TWO_STACKS.replace(merge="add"))
    for layer in add.layers:
        if layer.weights:
            layer.set_weights(attention.get_layer(layer.name).get_weights())
    a = attention.predict(inputs, verbose=0)[-1]
    b = add.predict(inputs, verbose=0)[-1]
    assert a.shape == b.shape and not np.allclose(a, b)


def test_config_round_trip_and_validation():
    config = models.get_preset("sa_shn_mobile")
    assert models.ModelConfig.from_json(config.to_json()) == config
    assert models.ModelConfig.from_dict(SMALL_TWO_STACKS.to_dict()) == SMALL_TWO_STACKS
    with pytest.raises(ValueError, match="merge"):
        SMALL_TWO_STACKS.replace(merge="concat")
    with pytest.raises(ValueError, match="channels"):
        SMALL_TWO_STACKS.replace(channels=(4, 6))
    with pytest.raises(ValueError, match="multiples"):
        SMALL_TWO_STACKS.replace(depth=5, channels=8)
    with pytest.raises(ValueError, match="unknown preset"):
        models.build("nope")
    with pytest.raises(ValueError, match="unknown model config keys"):
        models.ModelConfig.from_dict({"bogus": 1})


def test_model_file_carries_its_config(tmp_path):
    model = models.build(SMALL_TWO_STACKS)
    path = tmp_path / "small.keras"
    models.save_model(model, SMALL_TWO_STACKS, path)
    loaded, config = models.load_model(path)
    assert config == SMALL_TWO_STACKS
    inputs = np.random.default_rng(1).random((1, 16, 64, 1)).astype("float32")
    for before, after in zip(model.predict(inputs, verbose=0), loaded.predict(inputs, verbose=0)):
        np.testing.assert_array_equal(before, after)


def test_model_file_errors(tmp_path):
    with pytest.raises(models.ModelFileError, match="not found"):
        models.load_model(tmp_path / "missing.keras")
    plain = tmp_path / "plain.keras"
    models.build(SMALL_TWO_STACKS).save(plain)
    with pytest.raises(models.ModelFileError, match="not a keras_sa model"):
        models.load_model(plain)
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a zip")
    with pytest.raises(models.ModelFileError, match="unreadable"):
        models.load_model(junk)


def test_open_time_axis_for_whole_song_inference():
    model = models.build(SMALL_TWO_STACKS, frames=None)
    patch = models.build(SMALL_TWO_STACKS)
    model.set_weights(patch.get_weights())
    inputs = np.random.default_rng(2).random((1, 48, 64, 1)).astype("float32")
    assert model.predict(inputs, verbose=0)[-1].shape == (1, 48, 64, 2)
    assert keras.ops.shape(model.inputs[0])[1] is None
