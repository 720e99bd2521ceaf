"""Random EQ and reverb for the vocals of training examples.

Singers reach a record through different microphones, rooms and mixing
desks: the same voice arrives brighter or darker, drier or wetter. MIR-1K's
two training singers were recorded one way, so a model trained on them sees
one colour of voice. Each remixed example can instead colour its vocals with
a random spectral tilt, one random peaking band and, half of the time, a
synthetic room (``"eq+room"``), or the EQ alone (``"eq"``). The target is the
coloured vocals, as it would be in a record.
"""

import numpy as np
from scipy.signal import fftconvolve

TILT_DB_PER_OCTAVE = 3.0  # tilt within +-3 dB per octave around 1 kHz
BAND_DB = 6.0  # one peaking band of up to +-6 dB
BAND_HZ = (200.0, 6000.0)  # its centre, log-uniform
REVERB_PROBABILITY = 0.5
RT60_SECONDS = (0.2, 1.2)  # reverberation time of the synthetic room
WET_DB = (-18.0, -3.0)  # reverberant part relative to the dry vocals
KINDS = ("eq", "eq+room")


def kind(value):
    """The kind of effects a ``vocal_effects`` option asks for: None, ``"eq"`` or ``"eq+room"``.

    ``True`` (the option as a bare flag) means ``"eq+room"``.
    """
    if value is True:
        return "eq+room"
    if value in (None, False):
        return None
    if value not in KINDS:
        raise ValueError(f"vocal_effects must be one of {', '.join(KINDS)}, got {value!r}")
    return value


def draw(rng, room=True):
    """The random settings of one example's effects (a dict of floats).

    ``room=False`` draws the same numbers and leaves the room out, so that
    the EQ of every example is the one ``room=True`` would give it.
    """
    settings = {
        "tilt": rng.uniform(-TILT_DB_PER_OCTAVE, TILT_DB_PER_OCTAVE),
        "band_hz": float(np.exp(rng.uniform(*np.log(BAND_HZ)))),
        "band_db": rng.uniform(-BAND_DB, BAND_DB),
        "rt60": 0.0,
        "wet_db": 0.0,
        "room_seed": int(rng.integers(2**31)),
    }
    if rng.random() < REVERB_PROBABILITY:
        rt60, wet_db = rng.uniform(*RT60_SECONDS), rng.uniform(*WET_DB)
        if room:
            settings["rt60"], settings["wet_db"] = rt60, wet_db
    return settings


def equalizer_gain(frequencies, tilt, band_hz, band_db):
    """Linear gain of the tilt and peaking band at ``frequencies`` (Hz).

    The band is a Gaussian bump one octave wide (standard deviation) on the
    log-frequency axis: smooth, so the filter's impulse response is short.
    """
    octaves = np.log2(np.maximum(frequencies, 20.0) / 1000.0)
    band = band_db * np.exp(-0.5 * (np.log2(np.maximum(frequencies, 20.0) / band_hz)) ** 2)
    return 10.0 ** ((tilt * octaves + band) / 20.0)


def room_response(rate, rt60, seed):
    """A synthetic room: exponentially decaying Gaussian noise, unit energy."""
    length = int(rt60 * rate)
    rng = np.random.default_rng(seed)
    decay = np.exp(-6.91 * np.arange(length) / length)  # -60 dB at rt60
    response = rng.standard_normal(length) * decay
    return response / np.sqrt(np.sum(response**2))


def apply(vocals, rate, settings):
    """``vocals`` (1-D) with the effects of ``settings`` (from :func:`draw`), same length."""
    n = len(vocals)
    spectrum = np.fft.rfft(vocals)
    spectrum *= equalizer_gain(np.fft.rfftfreq(n, 1.0 / rate), settings["tilt"],
                               settings["band_hz"], settings["band_db"])
    out = np.fft.irfft(spectrum, n)
    if settings["rt60"] > 0:
        wet = fftconvolve(out, room_response(rate, settings["rt60"], settings["room_seed"]))[:n]
        out = out + 10.0 ** (settings["wet_db"] / 20.0) * wet
    # The EQ changes the loudness; the remix gains, not the EQ, should set it.
    scale = np.sqrt(np.sum(vocals**2) / max(np.sum(out**2), 1e-20))
    return (out * scale).astype(np.float32)
