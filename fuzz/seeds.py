"""Seed corpora for the fuzz harnesses, generated (no recorded audio is copied).

Each seed is a small valid (or nearly valid) input for one parser, so that
the fuzzer starts from every branch the format has: every WAV sample
format, plain and ``WAVE_FORMAT_EXTENSIBLE``, RF64, chunks before ``data``,
the streaming unknown-size markers; a short file of each format libsndfile
writes under each suffix; the bundled TFLite contracts and model presets;
both TensorFlow Serving answer formats.

    python fuzz/seeds.py OUT_DIR [NAME...]    # writes OUT_DIR/<name>/seed-*
"""

import io
import json
import os
import struct
import sys

import numpy as np

_RATE = 8000


def _tone(frames, channels):
    t = np.arange(frames) / _RATE
    return np.stack([0.5 * np.sin(2 * np.pi * (220 + 110 * c) * t) for c in range(channels)], 1).astype(np.float32)


def _wav(samples, tag, bits, extensible=False, sizes="exact", rf64=False, extra_chunk=False):
    """A WAV file's bytes built by hand (libsndfile cannot write every variant)."""
    channels = samples.shape[1]
    if tag == 3:
        data = samples.astype("<f4" if bits == 32 else "<f8").tobytes()
    elif bits == 8:
        data = np.clip(np.round(samples * 128 + 128), 0, 255).astype(np.uint8).tobytes()
    elif bits == 24:
        ints = np.clip(np.round(samples * 2**23), -(2**23), 2**23 - 1).astype("<i4")
        data = ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    else:
        dtype = "<i2" if bits == 16 else "<i4"
        data = np.clip(np.round(samples * 2 ** (bits - 1)), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1).astype(dtype).tobytes()
    align = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 0xFFFE if extensible else tag, channels, _RATE, _RATE * align, align, bits)
    if extensible:
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", tag) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    body = b"WAVE"
    if rf64:
        body += b"ds64" + struct.pack("<IQQQI", 28, 0, len(data), len(data) // align, 0)
    body += b"fmt " + struct.pack("<I", len(fmt)) + fmt
    if extra_chunk:
        body += b"LIST" + struct.pack("<I", 9) + b"INFOISFT\x00\x00"  # odd size: a pad byte follows
    data_size = {"exact": len(data), "unknown": 0xFFFFFFFF, "zero": 0}[sizes]
    if rf64:
        data_size = 0xFFFFFFFF
    body += b"data" + struct.pack("<I", data_size) + data
    riff_size = 0xFFFFFFFF if sizes != "exact" or rf64 else len(body)
    return (b"RF64" if rf64 else b"RIFF") + struct.pack("<I", riff_size) + body


def wav_seeds():
    """Hand-built WAV streams: every format the stream reader takes, and its size markers."""
    seeds = []
    for channels in (1, 2):
        samples = _tone(64, channels)
        for tag, bits in ((1, 8), (1, 16), (1, 24), (1, 32), (3, 32), (3, 64)):
            seeds.append(_wav(samples, tag, bits))
            seeds.append(_wav(samples, tag, bits, extensible=True))
    samples = _tone(64, 2)
    seeds += [
        _wav(samples, 1, 16, sizes="unknown"),
        _wav(samples, 1, 16, sizes="zero"),
        _wav(samples, 3, 32, rf64=True),
        _wav(samples, 1, 16, extra_chunk=True),
        _wav(samples, 1, 16)[:-3],  # cut inside a frame
        _wav(samples, 1, 16)[:60],  # cut inside the data
        _wav(samples[:0], 1, 16),  # no samples
    ]
    return seeds


def _soundfile_bytes(samples, rate, **kwargs):
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, **kwargs)
    return buffer.getvalue()


def _aiff(samples):
    return _soundfile_bytes(samples, _RATE, format="AIFF", subtype="PCM_16")


def decode_seeds():
    """A short file of each format, prefixed by the byte that picks its suffix in the harness."""
    from harnesses import SUFFIXES

    mono, stereo = _tone(800, 1), _tone(800, 2)
    by_suffix = {
        ".wav": [_soundfile_bytes(stereo, _RATE, format="WAV", subtype=subtype) for subtype in ("PCM_16", "FLOAT", "ULAW")]
        + [_wav(mono, 1, 24, extensible=True), _wav(stereo, 1, 16, sizes="unknown"), _wav(stereo, 3, 32, rf64=True),
           _aiff(stereo), _soundfile_bytes(mono, _RATE, format="AIFF", subtype="ULAW")],
        ".flac": [_soundfile_bytes(stereo, _RATE, format="FLAC", subtype="PCM_16")],
        ".ogg": [_soundfile_bytes(stereo, _RATE, format="OGG", subtype="VORBIS")],
        ".opus": [_soundfile_bytes(_tone(960, 1), 48000, format="OGG", subtype="OPUS")],
        ".mp3": [_soundfile_bytes(_tone(1152 * 4, 1), 8000, format="MP3", subtype="MPEG_LAYER_III")],
    }
    seeds = []
    for suffix, files in by_suffix.items():
        for reader in (0, 0x80):  # read_blocks, load_audio
            prefix = bytes([SUFFIXES.index(suffix) | reader])
            seeds += [prefix + data for data in files]
    return seeds


def contract_seeds():
    """The bundled TFLite contracts, whole and reduced to what the reader needs."""
    from keras_sa import pretrained

    seeds = []
    for path in sorted(pretrained.HERE.glob("*.json")):
        contract = json.loads(path.read_text())
        seeds.append(json.dumps(contract).encode())
        seeds.append(json.dumps({key: contract[key] for key in ("format", "model", "verification")}).encode())
    return seeds


def model_config_seeds():
    """Every preset's configuration as its model file stores it."""
    from keras_sa.models.presets import PRESETS

    return [config.to_json().encode() for config in PRESETS.values()]


def serving_response_seeds():
    """Both TensorFlow Serving answer formats, an error answer and a batch of two."""
    values = [0.0, 0.25, -0.5, 1e-3]
    return [
        json.dumps({"predictions": [{"vocals": values, "accompaniment": values[::-1]}]}).encode(),
        json.dumps({"predictions": [{"vocals": values, "accompaniment": values}] * 2}).encode(),
        json.dumps({"outputs": {"vocals": [values], "accompaniment": [values]}}).encode(),
        json.dumps({"error": "Input to reshape is a tensor with 3 values"}).encode(),
    ]


SEEDS = {
    "wavstream": wav_seeds,
    "decode": decode_seeds,
    "contract": contract_seeds,
    "model_config": model_config_seeds,
    "serving_response": serving_response_seeds,
}


def write(out_dir, name):
    """Write harness ``name``'s seeds to ``out_dir`` as ``seed-NNN``; returns how many."""
    os.makedirs(out_dir, exist_ok=True)
    seeds = SEEDS[name]()
    for index, data in enumerate(seeds):
        with open(os.path.join(out_dir, f"seed-{index:03d}"), "wb") as file:
            file.write(data)
    return len(seeds)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    root, names = sys.argv[1], sys.argv[2:] or list(SEEDS)
    for harness in names:
        print(harness, write(os.path.join(root, harness), harness))
