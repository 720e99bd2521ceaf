"""The streaming resamplers: chunk-size independence, alignment, length, agreement with soxr, hold-back."""

import numpy as np
import pytest
import scipy.signal
import soxr

from keras_sa.audio.resample_stream import open_resampler, resampler_lag

# (in, out): libsamplerate below 16 kHz, one soxr stream, soxr chains through halvings.
PAIRS = [(8000, 16000), (16000, 8000), (16000, 11025), (12000, 16000), (44100, 16000), (16000, 44100),
         (96000, 16000), (16000, 96000), (192000, 16000)]


def white_noise(rate, seconds, seed=0):
    """White noise, ``seconds`` long."""
    noise = np.random.default_rng(seed).standard_normal(int(rate * seconds))
    return noise.astype(np.float32)


def low_passed(samples, cutoff):
    taps = scipy.signal.firwin(1023, cutoff)
    return scipy.signal.lfilter(taps, 1.0, samples).astype(np.float32)


def run(in_rate, out_rate, samples, sizes):
    stream = open_resampler(in_rate, out_rate)
    pieces, first, index, emitted, lag = [], 0, 0, 0, 0.0
    while first < len(samples):
        size = sizes[index % len(sizes)]
        index += 1
        pieces.append(stream.resample_chunk(samples[first : first + size]))
        first = min(first + size, len(samples))
        emitted += len(pieces[-1])
        lag = max(lag, first - emitted * in_rate / out_rate)
    pieces.append(stream.resample_chunk(np.zeros(0, np.float32), last=True))
    return np.concatenate(pieces), lag


@pytest.mark.parametrize("in_rate, out_rate", PAIRS)
def test_same_samples_for_any_chunking_and_soxr_length(in_rate, out_rate):
    samples = white_noise(in_rate, 0.7)
    whole, _ = run(in_rate, out_rate, samples, [len(samples)])
    assert len(whole) == len(soxr.resample(samples, in_rate, out_rate, "HQ"))
    assert whole.dtype == np.float32
    for sizes in ([1], [7, 1000, 3], [48000]):
        np.testing.assert_array_equal(run(in_rate, out_rate, samples, sizes)[0], whole)


@pytest.mark.parametrize("in_rate, out_rate", PAIRS)
def test_agrees_with_offline_soxr_and_holds_back_at_most_its_lag(in_rate, out_rate):
    """Time-aligned output that matches soxr.resample to 70 dB in the shared band, to the last sample."""
    shared = min(in_rate, out_rate) / in_rate
    samples = low_passed(white_noise(in_rate, 1.5, seed=1), 0.8 * shared)
    out, lag = run(in_rate, out_rate, samples, [1, 999])
    reference = soxr.resample(samples, in_rate, out_rate, "VHQ")
    error = out - reference

    def snr(part):
        return 10 * np.log10(np.sum(reference[part] ** 2) / np.sum(error[part] ** 2))

    edge = out_rate // 100  # the filters' own start-up and ends differ over a few ms
    assert snr(slice(edge, -edge)) > 70
    # The last 10 ms, where an unflushed stream would leave zeros.
    assert snr(slice(-edge, None)) > 30
    assert lag <= resampler_lag(in_rate, out_rate)


def test_low_rates_and_high_rates_hold_back_little():
    """The reason for the choices: under 20 ms at 8 kHz, and a chain beats one soxr stream at 96 kHz."""
    assert resampler_lag(8000, 16000) / 8000 < 0.02
    assert resampler_lag(16000, 8000) / 16000 < 0.02
    direct = soxr.ResampleStream(96000, 16000, 1, dtype="float32", quality="HQ")
    one = np.zeros(1, np.float32)
    fed = 0
    while not len(direct.resample_chunk(one)):
        fed += 1
    assert resampler_lag(96000, 16000) < fed
