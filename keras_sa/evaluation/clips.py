"""The clips the protocols score: MIR-1K (mono, half-sum mixture) and MUSDB18 (stereo, sum)."""

from typing import NamedTuple

import numpy as np

from keras_sa.data.tracks import Sources


class Clip(NamedTuple):
    """One evaluation clip.

    Attributes:
        name: clip identifier, e.g. ``"Ani_1_01"``.
        mixture: mono float32 ``(n,)`` mixture, as the data layer built it
            (for MIR-1K ``(vocals + accompaniment) / 2``), or ``(channels,
            n)`` under the MUSDB18 protocol.
        references: ``{"vocals": ..., "accompaniment": ...}``, shaped like
            the mixture.
        sample_rate: rate of all of the above, in Hz.
    """

    name: str
    mixture: np.ndarray
    references: dict
    sample_rate: int


class _LazyClips:
    """Tracks to be decoded into clips one at a time, as they are iterated."""

    def __init__(self, tracks, sample_rate=None):
        self.tracks = list(tracks)
        self.sample_rate = sample_rate

    def __len__(self):
        return len(self.tracks)


class TrackClips(_LazyClips):
    """MIR-1K-protocol clips of tracks, decoded lazily at ``sample_rate``.

    The mixture is ``(vocals + accompaniment) / 2``, the mono down-mix of the
    original stereo MIR-1K files.
    """

    def __init__(self, tracks, sample_rate):
        super().__init__(tracks, sample_rate)

    def __iter__(self):
        for track in self.tracks:
            sources = Sources(track.name, **track.load(self.sample_rate))
            # The references are the halves that make up the MIR-1K mixture.
            references = {"vocals": sources.vocals / 2, "accompaniment": sources.accompaniment / 2}
            yield Clip(track.name, sources.mixture, references, self.sample_rate)


class MusdbClips(_LazyClips):
    """MUSDB18-protocol clips of tracks: stereo, decoded lazily.

    Each track's sources are loaded with their channels kept
    (``track.load(rate, mono=False)``), at ``sample_rate`` or, when that is
    ``None``, at the track's own rate (``track.rate()``: 44.1 kHz for
    MUSDB18). The mixture is ``vocals + accompaniment``: MUSDB18 mixtures
    are the sum of the stems, unlike MIR-1K's half, and the references are
    the sources themselves.
    """

    def __iter__(self):
        for track in self.tracks:
            rate = self.sample_rate
            if rate is None:
                if track.rate is None:
                    raise ValueError(f"{track.name}: the track's own rate is unknown; give a rate")
                rate = track.rate()
            sources = track.load(rate, mono=False)
            mixture = sources["vocals"] + sources["accompaniment"]
            yield Clip(track.name, mixture, sources, rate)
