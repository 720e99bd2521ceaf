"""scripts/inference_probe.py: overlap averaging agrees with the product path where they coincide."""

import dataclasses

import numpy as np
import pytest

from script_loader import load_script


@pytest.fixture(scope="module")
def separator(small_model_file):
    from keras_sa.separation import Separator

    return Separator.from_file(small_model_file, backend="keras")


@pytest.fixture(scope="module")
def magnitude(mir1k_root, separator):
    from keras_sa import data
    from keras_sa.audio.signal import stft

    clip = sorted(data.discover(mir1k_root), key=lambda track: track.name)[0]
    sources = clip.load(separator.signal.sample_rate)
    mixture = ((sources["vocals"] + sources["accompaniment"]) / 2)[:40000]
    return np.abs(stft(mixture, separator.signal))[:, : separator.signal.n_bins]


def test_equal_weights_without_overlap_are_the_product_path(separator, magnitude):
    probe = load_script("inference_probe")
    patch = separator.signal.patch_frames
    averaged = probe.averaged_masks([separator], magnitude, patch, "mean")
    product = dataclasses.replace(separator.signal, window_hop=patch, window_margin=0)
    whole_windows = type(separator)(separator.predictor)
    whole_windows.signal = product
    np.testing.assert_allclose(averaged, whole_windows.masks(magnitude), atol=1e-6)


def test_overlapping_windows_average_into_the_mask_range(separator, magnitude):
    probe = load_script("inference_probe")
    averaged = probe.averaged_masks([separator], magnitude, 4, "hann")
    assert averaged.shape == (magnitude.shape[0], magnitude.shape[1], 2)
    assert np.all((averaged >= 0) & (averaged <= 1))
    single = probe.averaged_masks([separator], magnitude, separator.signal.patch_frames, "mean")
    assert not np.allclose(averaged, single, atol=1e-3)  # the overlap changes the masks


def test_margin_goes_with_keep_only(capsys, mir1k_root, small_model_file):
    probe = load_script("inference_probe")
    with pytest.raises(SystemExit):
        probe.main([str(mir1k_root), "--model", small_model_file, "--singers", "amy",
                    "--average", "hann", "--margin", "4", "-o", "unused"])
    assert "--margin applies to --average keep only" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        probe.main([str(mir1k_root), "--model", small_model_file, "--singers", "amy",
                    "--average", "keep", "--window-hop", "12", "--margin", "8", "-o", "unused"])
    assert "must fit the 16-frame window" in capsys.readouterr().err


def test_an_ensemble_on_the_product_path_averages_the_window_masks(separator, magnitude):
    from keras_sa.separation import Separator

    probe = load_script("inference_probe")
    twice = Separator(probe.MeanPredictor([separator.predictor, separator.predictor]))
    np.testing.assert_allclose(twice.masks(magnitude), separator.masks(magnitude), atol=1e-6)

    class Opposite:
        """The same model with its two sources' masks swapped: a second, different member."""

        config = separator.predictor.config

        def __call__(self, features):
            return separator.predictor(features)[..., ::-1]

    mixed = Separator(probe.MeanPredictor([separator.predictor, Opposite()])).masks(magnitude)
    one = separator.masks(magnitude)
    np.testing.assert_allclose(mixed, (one + one[..., ::-1]) / 2, atol=1e-6)
    assert not np.allclose(mixed, one, atol=1e-3)
