"""Finding and loading separation datasets: MIR-1K, stem folders, MUSDB18.

A :class:`Track` names one recording and knows how to load its sources as
float32 at a requested rate, mono (the default, for training and the MIR-1K
protocol) or with their channels kept (for the MUSDB18 / SiSEC protocol);
the pipelines never care which layout a track came from.
"""

import logging
import zlib
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from keras_sa.audio.io import AudioError, audio_info, load_audio, resample

log = logging.getLogger(__name__)

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".opus", ".mp3")
MIR1K_TRAIN_SINGERS = ("abjones", "amy")


class DatasetError(ValueError):
    """A dataset folder that is missing, empty or malformed."""


class Track(NamedTuple):
    """One recording with separated sources.

    Attributes:
        name: unique track name (MIR-1K: the clip name, e.g. ``amy_3_01``).
        group: what must not be split between training and validation (the
            song: ``amy_3`` for MIR-1K; the track name elsewhere).
        loader: ``loader(sample_rate) -> {"vocals": (n,), "accompaniment": (n,)}``
            mono float32 arrays of equal length; ``loader(sample_rate,
            mono=False)`` gives ``(channels, n)`` arrays instead, both sources
            with the same channel count.
        rate: ``rate() -> int``, the rate in Hz the sources are stored at
            (reads a header at most, so listing a dataset stays cheap);
            ``None`` if unknown.
    """

    name: str
    group: str
    loader: Callable
    rate: Callable = None

    def load(self, sample_rate, mono=True):
        """The sources at ``sample_rate``.

        Args:
            sample_rate: rate in Hz to decode (and resample) to.
            mono: ``True`` for ``(n,)`` down-mixes; ``False`` to keep the
                channels: ``(channels, n)`` arrays.

        Returns:
            ``{"vocals": array, "accompaniment": array}``, float32.
        """
        if mono:
            # The original one-argument call, so mono loading is unchanged
            # (and a loader written before ``mono`` existed still works).
            return self.loader(sample_rate)
        return self.loader(sample_rate, mono=False)


class Sources(NamedTuple):
    """Decoded sources of one track at one rate."""

    name: str
    vocals: np.ndarray
    accompaniment: np.ndarray

    @property
    def mixture(self):
        """The MIR-1K mixture: the mono down-mix ``(vocals + accompaniment) / 2``."""
        return (self.vocals + self.accompaniment) / 2


def _mono(samples):
    return samples.mean(axis=0)


def _channels(samples, mono):
    """``(channels, n)`` samples as a mono ``(n,)`` down-mix, or kept as they are."""
    return _mono(samples) if mono else samples


def _same_channels(name, arrays):
    """``(channels, n)`` arrays with one channel count: mono ones are repeated.

    A stem-folder track may mix mono and stereo stems; the stereo protocol
    needs every source with the track's channel count.

    Raises:
        DatasetError: two arrays have different channel counts, neither 1.
    """
    counts = {a.shape[0] for a in arrays} - {1}
    if len(counts) > 1:
        raise DatasetError(f"{name}: sources have different channel counts {sorted(counts)}")
    channels = counts.pop() if counts else 1
    return [np.repeat(a, channels, axis=0) if a.shape[0] != channels else a for a in arrays]


def _check_equal_lengths(name, arrays):
    # The last axis is time for both (n,) and (channels, n) arrays.
    lengths = {key: np.shape(value)[-1] for key, value in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise DatasetError(f"{name}: sources have different lengths {lengths}")


def _folder(root):
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset folder not found")
    return root


# ----------------------------------------------------------------------------
# MIR-1K, original layout: <root>/Wavfile/<clip>.wav, left = accompaniment,
# right = vocals.


def mir1k_wavfile_tracks(root):
    """Tracks of an original MIR-1K download (``<root>/Wavfile/*.wav``)."""
    root = _folder(root)
    folder = root / "Wavfile" if (root / "Wavfile").is_dir() else root
    files = sorted(folder.glob("*.wav"))
    if not files:
        raise DatasetError(f"{folder}: no MIR-1K .wav files found")

    def make_loader(path):
        def loader(sample_rate, mono=True):
            samples, _ = load_audio(path, sample_rate=sample_rate)
            if samples.shape[0] != 2:
                raise DatasetError(
                    f"{path}: expected a stereo MIR-1K file "
                    f"(accompaniment left, vocals right), got {samples.shape[0]} channel(s)"
                )
            # The file's channels are the sources, so each source is one
            # channel: (n,) for mono, (1, n) with channels kept.
            return {
                "vocals": _channels(samples[1:], mono),
                "accompaniment": _channels(samples[:1], mono),
            }

        return loader

    return [
        Track(p.stem, _mir1k_song(p.stem), make_loader(p), _header_rate(p)) for p in files
    ]


def _header_rate(path):
    """``rate()`` for :class:`Track`: the file's rate, read from its header when asked."""
    return lambda: audio_info(path)[0]


def _mir1k_song(clip):
    """``amy_3_01`` -> ``amy_3``: clips of one song stay on one side of a split."""
    return clip.rsplit("_", 1)[0] if clip.count("_") >= 2 else clip


def _mir1k_singer(clip):
    return clip.split("_", 1)[0]


# ----------------------------------------------------------------------------
# Stem folders: <root>/<track>/<source>.<ext>. Accompaniment is the file named
# "accompaniment" if there is one, else the sum of every stem that is neither
# the vocals nor the mixture (MUSDB18-HQ: drums + bass + other).


def stem_folder_tracks(root, vocals="vocals", group=None):
    """Tracks of a stem-folder dataset.

    Args:
        root: folder with one sub-folder per track.
        vocals: stem name of the vocals.
        group: ``"mir1k"`` to group clips by MIR-1K song for splitting;
            ``None`` (default) groups each track on its own.

    Returns:
        A list of :class:`Track`, sorted by name.
    """
    root = _folder(root)
    tracks = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        stems = {p.stem: p for p in folder.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS}
        if vocals not in stems:
            log.warning("skipping %s: no %s stem", folder, vocals)
            continue
        others = [p for stem, p in sorted(stems.items()) if stem not in (vocals, "mixture")]
        if "accompaniment" in stems:
            others = [stems["accompaniment"]]
        if not others:
            log.warning("skipping %s: no accompaniment stems", folder)
            continue
        name = folder.name
        song = _mir1k_song(name) if group == "mir1k" else name
        loader = _stem_loader(stems[vocals], others)
        tracks.append(Track(name, song, loader, _header_rate(stems[vocals])))
    if not tracks:
        raise DatasetError(f"{root}: no track folders with a {vocals!r} stem")
    return tracks


def _stem_loader(vocals_path, accompaniment_paths):
    def loader(sample_rate, mono=True):
        vocals = _channels(load_audio(vocals_path, sample_rate=sample_rate)[0], mono)
        parts = [
            _channels(load_audio(p, sample_rate=sample_rate)[0], mono) for p in accompaniment_paths
        ]
        sources = {"vocals": vocals}
        sources.update({str(p): part for p, part in zip(accompaniment_paths, parts)})
        _check_equal_lengths(vocals_path.parent, sources)
        if not mono:
            vocals, *parts = _same_channels(vocals_path.parent, [vocals, *parts])
        return {"vocals": vocals, "accompaniment": np.sum(parts, axis=0).astype(np.float32)}

    return loader


# ----------------------------------------------------------------------------
# MUSDB18: .stem.mp4 through the musdb package, the HQ wav layout as stem folders.


def musdb_hq_tracks(root, subset="train"):
    """Tracks of a MUSDB18-HQ folder: ``<root>/<subset>/<track>/{mixture,drums,bass,other,vocals}.wav``.

    Read as stem folders with libsndfile, so no ffmpeg is needed. The
    accompaniment is drums + bass + other, musdb's ``accompaniment`` target;
    the stored mixture is not used.

    Raises:
        DatasetError: the subset folder is missing or holds no track.
    """
    return stem_folder_tracks(_folder(Path(root) / subset))


def musdb_tracks(root, subset="train", is_wav=False):
    """Tracks of a MUSDB18 or MUSDB18-HQ folder.

    Args:
        root: the dataset folder: ``<root>/<subset>/<track>.stem.mp4``
            (MUSDB18, read by the ``musdb`` package, which needs ffmpeg), or
            ``<root>/<subset>/<track>/{mixture,drums,bass,other,vocals}.wav``
            (MUSDB18-HQ, ``is_wav=True``, see :func:`musdb_hq_tracks`).
        subset: ``"train"`` or ``"test"``.
        is_wav: read the HQ wav layout.

    Returns:
        A list of :class:`Track`, each its own group. The accompaniment is
        musdb's ``accompaniment`` target, drums + bass + other; the stored
        mixture is not used.

    Raises:
        DatasetError: the folder is missing, musdb finds no track in it, or
            ffmpeg is missing for ``.stem.mp4`` files.
    """
    if is_wav:
        return musdb_hq_tracks(root, subset)
    try:
        import musdb
    except RuntimeError:
        # stempeg (imported by musdb) raises at import time without ffmpeg.
        raise DatasetError(
            f"{root}: MUSDB18 .stem.mp4 files need ffmpeg and ffprobe on PATH (install ffmpeg,"
            " or use the MUSDB18-HQ wav layout, which does not)"
        ) from None

    root = _folder(root)
    db = musdb.DB(root=str(root), subsets=subset, is_wav=is_wav)
    if not db.tracks:
        raise DatasetError(f"{root}: musdb found no {subset!r} tracks")

    def make_loader(track):
        def loader(sample_rate, mono=True):
            rate = int(track.rate)
            sources = {}
            for key in ("vocals", "accompaniment"):
                audio = track.targets[key].audio.T.astype(np.float32)
                sources[key] = _channels(resample(audio, rate, sample_rate), mono)
            return sources

        return loader

    # musdb reads a track's rate from its mixture file when listing (ffprobe).
    return [Track(t.name, t.name, make_loader(t), lambda t=t: int(t.rate)) for t in db.tracks]


# ----------------------------------------------------------------------------
# Splits and loading


def detect_layout(root):
    """The layout name of a dataset folder (see :func:`discover`)."""
    root = Path(root)
    if (root / "Wavfile").is_dir():
        return "mir1k-wav"
    if any(root.glob("*/*.stem.mp4")) or any(root.glob("*.stem.mp4")):
        return "musdb"
    if any(root.glob("train/*/mixture.wav")) or any(root.glob("test/*/mixture.wav")):
        # MUSDB18-HQ: its track folders sit one level deeper, under train/ and test/.
        return "musdb-wav"
    return "stems"


def discover(root, layout="auto", subset="train"):
    """Tracks of a dataset folder, its layout detected or named.

    Args:
        root: dataset folder.
        layout: ``"mir1k-wav"`` (original MIR-1K), ``"stems"`` (stem
            folders; MIR-1K song grouping when track names look like MIR-1K
            clips), ``"musdb"`` (MUSDB18 ``.stem.mp4`` via musdb),
            ``"musdb-wav"`` (MUSDB18-HQ wav stems), or ``"auto"``.
        subset: the MUSDB18 subset, ``"train"`` or ``"test"``; ignored by
            the other layouts.

    Returns:
        A list of :class:`Track`.
    """
    root = _folder(root)
    layout = detect_layout(root) if layout == "auto" else layout
    if layout == "mir1k-wav":
        return mir1k_wavfile_tracks(root)
    if layout == "stems":
        tracks = stem_folder_tracks(root)
        if all(t.name.count("_") >= 2 for t in tracks):
            tracks = [t._replace(group=_mir1k_song(t.name)) for t in tracks]
        return tracks
    if layout in ("musdb", "musdb-wav"):
        return musdb_tracks(root, subset=subset, is_wav=layout == "musdb-wav")
    raise DatasetError(f"unknown dataset layout {layout!r}")


def mir1k_split(tracks, train_singers=MIR1K_TRAIN_SINGERS):
    """MIR-1K protocol: ``(train, test)``; train = the clips of ``train_singers``."""
    train = [t for t in tracks if _mir1k_singer(t.name) in train_singers]
    test = [t for t in tracks if _mir1k_singer(t.name) not in train_singers]
    return train, test


def train_test_split(root, layout="auto"):
    """``(train, test)`` tracks of a dataset: its MUSDB18 subsets, else the MIR-1K singer split.

    Raises:
        DatasetError: either side is empty.
    """
    layout = detect_layout(_folder(root)) if layout == "auto" else layout
    if layout in ("musdb", "musdb-wav"):
        train, test = discover(root, layout, "train"), discover(root, layout, "test")
    else:
        train, test = mir1k_split(discover(root, layout))
    for name, tracks in (("training", train), ("test", test)):
        if not tracks:
            raise DatasetError(f"{root}: no {name} tracks")
    return train, test


def validation_split(tracks, fraction=0.1):
    """Deterministic ``(train, validation)`` split that keeps groups whole.

    Groups are ordered by a fixed hash of their name (independent of the
    seed and of the platform) and taken for validation until ``fraction`` of
    the tracks is reached.
    """
    if not 0 < fraction < 1:
        raise ValueError("fraction must lie in (0, 1)")
    groups = sorted({t.group for t in tracks}, key=lambda g: (zlib.crc32(g.encode()), g))
    held_out, count = set(), 0
    for group in groups:
        if count >= fraction * len(tracks):
            break
        held_out.add(group)
        count += sum(t.group == group for t in tracks)
    return (
        [t for t in tracks if t.group not in held_out],
        [t for t in tracks if t.group in held_out],
    )


def load_sources(tracks, sample_rate, progress=False):
    """Decode tracks to :class:`Sources`, skipping (and counting) unusable ones.

    A track whose files cannot be decoded, whose sources differ in length,
    or whose vocals or accompaniment are silent is logged and skipped.

    Raises:
        DatasetError: if no track is left.
    """
    loaded, skipped = [], []
    iterator = tracks
    if progress:
        from tqdm import tqdm

        iterator = tqdm(tracks, desc="decoding", unit="track")
    for track in iterator:
        try:
            sources = track.load(sample_rate)
            _check_equal_lengths(track.name, sources)
        except (AudioError, DatasetError) as error:
            skipped.append(track.name)
            log.warning("skipping %s: %s", track.name, error)
            continue
        silent = [key for key, value in sources.items() if not np.any(value)]
        if silent:
            skipped.append(track.name)
            log.warning("skipping %s: silent %s", track.name, ", ".join(silent))
            continue
        loaded.append(Sources(track.name, sources["vocals"], sources["accompaniment"]))
    if skipped:
        log.warning("skipped %d of %d tracks", len(skipped), len(tracks))
    if not loaded:
        raise DatasetError(f"no usable tracks among {len(tracks)}")
    return loaded
