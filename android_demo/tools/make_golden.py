#!/usr/bin/env python
"""Golden vectors for the Android demo's Java signal chain (separator-core's JVM tests).

Runs the Python package's own chain (``keras_sa.audio.signal``, ``keras_sa.separation.Separator``
with ``keras_sa.predictors.TFLitePredictor`` on the int8 model) on real audio and writes every
intermediate the Java code must reproduce:

- ``mono``: an excerpt of one MIR-1K *test* clip at 16 kHz (the model rate; the MIR-1K mixture
  ``(vocals + accompaniment) / 2``), stored as a 32-bit float WAV file: its STFT magnitudes, the
  features of the first window, the int8 model inputs of every window, the model's int8 outputs
  (run by LiteRT), the dequantized frame-level masks, the vocal share, and the separated vocals
  and accompaniment;
- ``stereo``: an excerpt of a stereo 44.1 kHz song, stored as a 16-bit WAV file: the channels
  resampled to 16 kHz by soxr, the int8 inputs and outputs of the model on their down-mix, the
  vocals at 16 kHz and at 44.1 kHz (the accompaniment is the input minus the vocals: not stored);
- ``wav``: small WAV files in every encoding the Java decoder reads (and two it must refuse),
  written by libsndfile, each with the samples libsndfile decodes from it;
- ``stream_mono`` and ``stream_stereo``: golden *streams*, the outputs of the Python
  ``StreamingSeparator`` (``Separator.stream``) fed in uneven chunks, for a longer excerpt of the
  MIR-1K test clip at 16 kHz and of the stereo 44.1 kHz song: the input, the int8 model inputs
  and outputs of every window in the order the stream ran them, the vocals (the accompaniment is
  the input minus them), and the stream's latency.

Format: ``manifest.json`` lists every array with its file, dtype and shape; each array file is
the raw little-endian values in C (row-major) order, gzip-compressed (``.f32.gz``: float32,
``.i8.gz``: int8). No numpy format, so the Java side reads them with ``GZIPInputStream`` and a
``ByteBuffer``. The model's contract is copied beside the manifest as ``contract.json``.

Usage (from the repository root)::

    .venv/bin/python android_demo/tools/make_golden.py --data ../shared/data/mir1k \\
        [--model tflite/models/sa_shn_mobile_int8_float_attention.tflite]

The JVM tests need no model: they replay the recorded int8 outputs through a fake model. After
the model is re-exported, run this again so the recorded outputs and contract match it.
"""

import argparse
import gzip
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import soundfile  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = REPO / "tflite" / "models" / "sa_shn_mobile_int8_float_attention.tflite"
DEFAULT_OUT = REPO / "android_demo" / "separator-core" / "src" / "test" / "resources" / "golden"
DEFAULT_SONG = "Karissa_Hobbs_-_Lets_Go_Fishin.ogg"

MIR1K_NOTE = (
    "MIR-1K (Chao-Ling Hsu and Jyh-Shing Roger Jang, 'On the improvement of singing voice separation "
    "for monaural recordings using the MIR-1K dataset', IEEE TASLP 2010); a short excerpt of one test "
    "clip, used as a test vector only"
)
SONG_NOTE = "\"Let's Go Fishin'\" by Karissa Hobbs, Free Music Archive, licensed CC BY 3.0; a short excerpt"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="MIR-1K stems folder (<clip>/vocals.opus, accompaniment.opus)")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help=".tflite model with int8 input and output, its contract .json beside it")
    parser.add_argument("--songs", type=Path, default=None, help="folder of full songs (default: <data>/../songs)")
    parser.add_argument("--song", default=DEFAULT_SONG, help="stereo 44.1 kHz song file in --songs")
    parser.add_argument("--clip", default="Kenshin_1_03", help="MIR-1K test clip")
    parser.add_argument("--clip-start", type=float, default=1.0, help="excerpt start in the clip, seconds")
    parser.add_argument("--clip-samples", type=int, default=25700, help="excerpt length at 16 kHz (not a multiple of the hop)")
    parser.add_argument("--song-start", type=float, default=32.0, help="excerpt start in the song, seconds")
    parser.add_argument("--song-seconds", type=float, default=0.5, help="excerpt length in the song")
    parser.add_argument("--stream-clip-seconds", type=float, default=6.0, help="stream excerpt of the clip, from its start (at most the clip)")
    parser.add_argument("--stream-song-seconds", type=float, default=4.0, help="stream excerpt of the song, from --song-start")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (replaced)")
    return parser.parse_args(argv)


class Writer:
    """Writes gzip-compressed raw arrays and collects their manifest entries."""

    def __init__(self, root):
        self.root = root

    def array(self, relative, values, dtype):
        values = np.ascontiguousarray(values, dtype=dtype)
        suffix = {"float32": ".f32.gz", "int8": ".i8.gz"}[np.dtype(dtype).name]
        path = self.root / (relative + suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        # mtime=0: the same arrays give the same bytes, so a rerun changes no file needlessly.
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as out:
            out.write(values.astype(values.dtype.newbyteorder("<"), copy=False).tobytes())
        return {"file": path.relative_to(self.root).as_posix(), "dtype": np.dtype(dtype).name, "shape": list(values.shape)}


class RawModel:
    """The int8 model under a LiteRT interpreter of its own: int8 windows in, int8 masks out."""

    def __init__(self, path):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(path), num_threads=1)
        self.interpreter.allocate_tensors()
        (self.input,) = self.interpreter.get_input_details()
        (self.output,) = self.interpreter.get_output_details()

    def __call__(self, quantized):
        """The model's raw outputs for int8 inputs ``(windows, patch, bins)``, one window per call."""
        outputs = []
        for window in quantized:
            self.interpreter.set_tensor(self.input["index"], window[np.newaxis, ..., np.newaxis])
            self.interpreter.invoke()
            outputs.append(self.interpreter.get_tensor(self.output["index"])[0].copy())
        return np.stack(outputs)


def chain(separator, model, spectrum):
    """Features, int8 inputs and outputs, frame masks and share of a mono mixture spectrum, checked against the Separator."""
    from keras_sa.predictors import _dequantize, _quantize

    signal = separator.signal
    magnitude = np.abs(spectrum[:, : signal.n_bins])
    features = separator.windows(magnitude)
    quantized = np.stack([_quantize(w, model.input) for w in features])
    raw = model(quantized)
    windows = _dequantize(raw, model.output)
    np.testing.assert_array_equal(windows, separator.predictor(features))  # the predictor's own path
    margin = signal.window_margin
    kept = windows[:, margin : margin + signal.window_hop]
    masks = kept.reshape(-1, *kept.shape[2:])[: magnitude.shape[0]]
    np.testing.assert_array_equal(masks, separator.masks(magnitude))
    share = separator.vocal_share(spectrum)
    return {"magnitude": np.abs(spectrum), "features": features, "quantized": quantized, "raw": raw, "masks": masks, "share": share}


def mono_case(args, separator, model, writer):
    from keras_sa import data
    from keras_sa.audio.io import load_audio, save_audio
    from keras_sa.audio.signal import stft
    from keras_sa.evaluation import TrackClips

    rate = separator.signal.sample_rate
    tracks = {t.name: t for t in data.discover(args.data)}
    if args.clip not in tracks:
        sys.exit(f"{args.data}: no clip {args.clip}")
    _, test = data.mir1k_split(list(tracks.values()))
    if args.clip not in {t.name for t in test}:
        sys.exit(f"{args.clip}: not a MIR-1K test clip (use a clip of a test singer)")
    clip = next(iter(TrackClips([tracks[args.clip]], rate)))
    first = int(round(args.clip_start * rate))
    excerpt = np.asarray(clip.mixture[first : first + args.clip_samples], np.float32)
    if excerpt.shape[0] != args.clip_samples:
        sys.exit(f"{args.clip}: shorter than the excerpt asked for")
    wav = writer.root / "mono" / "mixture.wav"
    wav.parent.mkdir(parents=True, exist_ok=True)
    save_audio(wav, excerpt[np.newaxis], rate)  # 32-bit float WAV
    samples, file_rate = load_audio(wav)
    assert file_rate == rate and np.array_equal(samples[0], excerpt)

    spectrum = stft(excerpt, separator.signal)
    parts = chain(separator, model, spectrum)
    stems = separator.separate(excerpt, rate)
    np.testing.assert_array_equal(stems["accompaniment"], excerpt - stems["vocals"])
    arrays = {
        "stft_magnitude": writer.array("mono/stft_magnitude", parts["magnitude"], np.float32),
        "features_window0": writer.array("mono/features_window0", parts["features"][0], np.float32),
        "features_q": writer.array("mono/features_q", parts["quantized"], np.int8),
        "masks_q": writer.array("mono/masks_q", parts["raw"], np.int8),
        "masks": writer.array("mono/masks", parts["masks"], np.float32),
        "vocal_share": writer.array("mono/vocal_share", parts["share"], np.float32),
        "vocals": writer.array("mono/vocals", stems["vocals"], np.float32),
        "accompaniment": writer.array("mono/accompaniment", stems["accompaniment"], np.float32),
    }
    return {
        "source": {"dataset": "MIR-1K", "clip": args.clip, "start_sample": first, "note": MIR1K_NOTE},
        "input": {"file": "mono/mixture.wav", "encoding": "float32 WAV", "sample_rate": rate, "channels": 1, "frames": int(excerpt.shape[0])},
        "frames": int(spectrum.shape[0]),
        "windows": int(parts["quantized"].shape[0]),
        "arrays": arrays,
    }


def stereo_case(args, separator, model, writer):
    from keras_sa.audio.io import load_audio, resample, save_audio
    from keras_sa.audio.signal import istft, stft

    songs = args.songs or args.data.parent / "songs"
    path = songs / args.song
    full, rate = load_audio(path)
    if full.shape[0] != 2:
        sys.exit(f"{path}: expected a stereo song")
    first = int(round(args.song_start * rate))
    count = int(round(args.song_seconds * rate))
    excerpt = full[:, first : first + count]
    wav = writer.root / "stereo" / "song.wav"
    wav.parent.mkdir(parents=True, exist_ok=True)
    save_audio(wav, excerpt, rate, subtype="PCM_16")
    samples, _ = load_audio(wav)  # what the Java side decodes: int16 / 32768

    model_rate = separator.signal.sample_rate
    at_rate = resample(samples, rate, model_rate)
    spectra = stft(at_rate, separator.signal)
    parts = chain(separator, model, spectra.mean(axis=0))
    vocals_at_rate = istft(parts["share"] * spectra, separator.signal, at_rate.shape[1])
    vocals = resample(vocals_at_rate, model_rate, rate)[:, : samples.shape[1]]
    stems = separator.separate(samples, rate)
    np.testing.assert_array_equal(stems["vocals"], vocals)
    arrays = {
        "at_rate": writer.array("stereo/at_rate", at_rate, np.float32),
        "features_q": writer.array("stereo/features_q", parts["quantized"], np.int8),
        "masks_q": writer.array("stereo/masks_q", parts["raw"], np.int8),
        "vocals_at_rate": writer.array("stereo/vocals_at_rate", vocals_at_rate, np.float32),
        "vocals": writer.array("stereo/vocals", stems["vocals"], np.float32),
    }
    return {
        "source": {"file": args.song, "start_sample": first, "note": SONG_NOTE},
        "input": {"file": "stereo/song.wav", "encoding": "16-bit PCM WAV", "sample_rate": rate, "channels": 2, "frames": int(samples.shape[1])},
        "model_rate_frames": int(at_rate.shape[1]),
        "frames": int(spectra.shape[1]),
        "windows": int(parts["quantized"].shape[0]),
        "arrays": arrays,
    }


class RecordingPredictor:
    """The separator's predictor, recording the int8 inputs and the raw int8 outputs of every window it runs.

    The raw outputs come from the LiteRT interpreter of :class:`RawModel`; dequantized, they are
    checked to be the predictor's own masks, so the JVM tests replay what the stream used.
    """

    def __init__(self, predictor, model):
        self.config = predictor.config
        self.predictor = predictor
        self.model = model
        self.inputs = []
        self.outputs = []

    def __call__(self, features):
        from keras_sa.predictors import _dequantize, _quantize

        masks = self.predictor(features)
        quantized = np.stack([_quantize(w, self.model.input) for w in features])
        raw = self.model(quantized)
        np.testing.assert_array_equal(_dequantize(raw, self.model.output), masks)
        self.inputs.append(quantized)
        self.outputs.append(raw)
        return masks


def uneven_chunks(total, seed=0):
    """Chunk sizes adding up to ``total``: single samples, tiny, empty and long chunks mixed."""
    rng = np.random.default_rng(seed)
    sizes, done = [], 0
    pattern = [1, 7, 0, 1000, 4096, 1, 333]
    while done < total:
        size = pattern[len(sizes)] if len(sizes) < len(pattern) else int(rng.integers(0, 6000))
        size = min(size, total - done)
        sizes.append(size)
        done += size
    return sizes


def stream_case(predictor, model, samples, rate, writer, name, wav_subtype):
    """Feeds ``samples`` to the Python stream in uneven chunks; writes its outputs and windows."""
    from keras_sa.audio.io import load_audio, save_audio
    from keras_sa.separation import Separator

    wav = writer.root / name / "input.wav"
    wav.parent.mkdir(parents=True, exist_ok=True)
    save_audio(wav, samples, rate, subtype=wav_subtype)
    samples, _ = load_audio(wav)  # what the Java side decodes
    recording = RecordingPredictor(predictor, model)
    separator = Separator(recording)
    stream = separator.stream(rate, samples.shape[0])
    vocals, accompaniment, fed = [], [], 0
    sizes = uneven_chunks(samples.shape[1])
    for size in sizes:
        v, a = stream.process(samples[:, fed : fed + size])
        fed += size
        vocals.append(v)
        accompaniment.append(a)
    v, a = stream.flush()
    vocals = np.concatenate(vocals + [v], axis=1)
    accompaniment = np.concatenate(accompaniment + [a], axis=1)
    np.testing.assert_array_equal(accompaniment, samples - vocals)
    windows = int(sum(len(q) for q in recording.inputs))
    # The stream's contract: its outputs joined are the offline separation of the whole input.
    offline = Separator(predictor).separate(samples, rate)
    np.testing.assert_allclose(vocals, offline["vocals"], rtol=0, atol=1e-6)
    arrays = {
        "features_q": writer.array(f"{name}/features_q", np.concatenate(recording.inputs), np.int8),
        "masks_q": writer.array(f"{name}/masks_q", np.concatenate(recording.outputs), np.int8),
        # The accompaniment is the input minus these (checked above): not stored.
        "vocals": writer.array(f"{name}/vocals", vocals, np.float32),
    }
    return {
        "input": {"file": f"{name}/input.wav", "encoding": wav_subtype, "sample_rate": rate, "channels": int(samples.shape[0]),
                  "frames": int(samples.shape[1])},
        "latency": int(stream.latency),
        "python_chunks": len(sizes),
        "windows": windows,
        "arrays": arrays,
    }


def stream_cases(args, predictor, model, writer):
    from keras_sa import data
    from keras_sa.audio.io import load_audio
    from keras_sa.evaluation import TrackClips

    rate = predictor.config.signal.sample_rate
    tracks = {t.name: t for t in data.discover(args.data)}
    clip = next(iter(TrackClips([tracks[args.clip]], rate)))
    mono = np.asarray(clip.mixture[: int(round(args.stream_clip_seconds * rate))], np.float32)[np.newaxis]
    mono_case = stream_case(predictor, model, mono, rate, writer, "stream_mono", "FLOAT")
    mono_case["source"] = {"dataset": "MIR-1K", "clip": args.clip, "start_sample": 0, "note": MIR1K_NOTE}

    songs = args.songs or args.data.parent / "songs"
    full, song_rate = load_audio(songs / args.song)
    first = int(round(args.song_start * song_rate))
    excerpt = full[:, first : first + int(round(args.stream_song_seconds * song_rate))]
    stereo_case = stream_case(predictor, model, excerpt, song_rate, writer, "stream_stereo", "PCM_16")
    stereo_case["source"] = {"file": args.song, "start_sample": first, "note": SONG_NOTE}
    return mono_case, stereo_case


WAV_FIXTURES = [
    # name, format, subtype, channels, rate, extra
    ("pcm16_stereo", "WAV", "PCM_16", 2, 22050, {}),
    ("pcm24_mono", "WAV", "PCM_24", 1, 48000, {}),
    ("pcm32_mono", "WAV", "PCM_32", 1, 8000, {}),
    ("pcm8_mono", "WAV", "PCM_U8", 1, 11025, {}),
    ("float32_stereo", "WAV", "FLOAT", 2, 44100, {}),
    ("float64_mono", "WAV", "DOUBLE", 1, 32000, {}),
    ("extensible_pcm24_stereo", "WAVEX", "PCM_24", 2, 96000, {}),
    ("pcm16_mono_with_info", "WAV", "PCM_16", 1, 16000, {"title": "test tone", "artist": "keras_sa"}),
]
UNSUPPORTED_FIXTURES = [("ulaw_mono", "WAV", "ULAW"), ("ima_adpcm_mono", "WAV", "IMA_ADPCM")]


def fixture_signal(channels, frames=301):
    """A deterministic test signal: two tones per channel, plus full-scale extremes."""
    t = np.arange(frames) / frames
    rows = [0.6 * np.sin(2 * np.pi * (7 + 3 * c) * t) + 0.3 * np.sin(2 * np.pi * (41 + c) * t) for c in range(channels)]
    samples = np.stack(rows).astype(np.float32)
    samples[:, 0] = 0.0
    samples[:, 1] = -1.0
    samples[:, 2] = 0.99
    return samples


def wav_fixtures(writer):
    entries = []
    for name, major, subtype, channels, rate, tags in WAV_FIXTURES:
        path = writer.root / "wav" / f"{name}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        with soundfile.SoundFile(path, "w", rate, channels, format=major, subtype=subtype) as out:
            for key, value in tags.items():
                setattr(out, key, value)
            out.write(fixture_signal(channels).T)
        decoded, file_rate = soundfile.read(path, dtype="float32", always_2d=True)
        assert file_rate == rate
        entries.append({
            "file": f"wav/{name}.wav", "subtype": subtype, "container": major, "channels": channels, "sample_rate": rate,
            "decoded": writer.array(f"wav/{name}", decoded.T, np.float32),
        })
    for name, major, subtype in UNSUPPORTED_FIXTURES:
        path = writer.root / "wav" / f"{name}.wav"
        with soundfile.SoundFile(path, "w", 8000, 1, format=major, subtype=subtype) as out:
            out.write(fixture_signal(1).T)
        entries.append({"file": f"wav/{name}.wav", "subtype": subtype, "container": major, "unsupported": True})
    return entries


def main(argv=None):
    args = parse_args(argv)
    from keras_sa.predictors import TFLitePredictor, read_contract
    from keras_sa.separation import Separator

    if not args.model.is_file():
        sys.exit(f"{args.model}: model file not found (export it, or pass --model)")
    predictor = TFLitePredictor(args.model, threads=1)
    contract = read_contract(args.model)
    if contract["input"]["dtype"] != "int8":
        sys.exit(f"{args.model}: the golden vectors are for an int8 model")
    separator = Separator(predictor)
    model = RawModel(args.model)

    # Written beside the target and swapped in only when complete: a failed run leaves the
    # committed vectors as they were.
    args.out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".golden-", dir=args.out.parent))
    try:
        write_all(args, separator, model, work)
        if args.out.exists():
            shutil.rmtree(args.out)
        work.rename(args.out)
    finally:
        if work.exists():
            shutil.rmtree(work)
    total = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"wrote {args.out} ({total / 1024:.0f} KiB)")


def write_all(args, separator, model, root):
    writer = Writer(root)
    shutil.copyfile(args.model.with_suffix(".json"), root / "contract.json")
    manifest = {
        "format": "keras_sa.android-golden",
        "version": 1,
        "generator": "android_demo/tools/make_golden.py",
        "encoding": "each array file: raw little-endian values in C (row-major) order, gzip-compressed; "
        ".f32.gz float32, .i8.gz int8",
        "model": {
            "file": args.model.name,
            "sha256": hashlib.sha256(args.model.read_bytes()).hexdigest(),
            "contract": "contract.json",
        },
        "mono": mono_case(args, separator, model, writer),
        "stereo": stereo_case(args, separator, model, writer),
        "wav": wav_fixtures(writer),
    }
    manifest["stream_mono"], manifest["stream_stereo"] = stream_cases(args, separator.predictor, model, writer)
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
