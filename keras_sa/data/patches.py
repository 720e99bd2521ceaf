"""Training and validation patches in numpy: the one definition of an example.

Decoded sources live in memory (MIR-1K's training set is about 90 MB at
16 kHz); every example is cut from them on the fly, so each epoch sees new
patches and, with remixing, new mixtures. This module needs neither
TensorFlow nor a Keras backend: ``keras_sa.data.pipeline`` wraps it in
tf.data, and :class:`PatchBatches` feeds ``model.fit`` on any backend (JAX
on a GPU host without TensorFlow, say).

One example is ``((features, mixture), targets)``:

- ``features``: ``(T, F, 1)`` model input (``keras_sa.audio.model_input``);
- ``mixture``: ``(T, F, 1)`` mixture magnitude divided by the patch maximum;
- ``targets``: ``(T, F, n_sources)`` source magnitudes divided by the same
  number, in the order of ``SignalConfig.sources``.

With ``spectra=True`` (what a time-domain training objective needs) an
example also carries the complex STFTs of the patch, divided by the same
number: ``((features, mixture, mixture_real, mixture_imag), targets)``, the
mixture's real and imaginary parts ``(T, F, 1)`` each, and ``targets``
``(T, F, 3 * n_sources)``: the source magnitudes, then their real parts,
then their imaginary parts.
"""

import numpy as np
import soxr

from keras_sa.audio.signal import model_input, stft

# Extra samples read on each side of a vocal segment that is resampled, so
# that the resampler's edge transients fall outside the part that is kept.
_SPEED_PAD = 512


class PatchSource:
    """Cuts examples out of decoded sources.

    Args:
        sources: list of :class:`keras_sa.data.Sources` decoded at
            ``config.sample_rate``.
        config: the :class:`keras_sa.audio.SignalConfig`.
        remix_probability: chance that a random example pairs the vocals of
            one track with the accompaniment of another, each with a random
            gain of up to ``gain_db`` decibels either way; the other random
            examples are the tracks' own mixtures, unchanged.
        gain_db: range of the remix gains.
        seed: seed of every random choice: random example ``i`` depends on
            ``(seed, i)`` alone, so any worker or process can make it.
        spectra: add the complex STFTs to every example (see the module
            docstring).
        vocal_speed: in remixed examples, play the vocals at a random speed
            between ``1 / (1 + vocal_speed)`` and ``1 + vocal_speed`` times
            their own (log-uniform), which moves their pitch and formants
            together, as a different singer's voice would (at 0.12, up to
            about 2 semitones either way). 0 leaves them as they are.
        voice_variants: optional list, one ``(k, n)`` array per source, of
            other voices of its vocals (:func:`keras_sa.data.voices.voice_variants`);
            remixed examples then draw their vocals from the original and
            its ``k`` variants alike.
        vocal_effects: colour the vocals of remixed examples with a random
            EQ and room (``"eq+room"``, or ``True``) or EQ only (``"eq"``)
            (:mod:`keras_sa.data.vocal_effects`).
    """

    def __init__(self, sources, config, remix_probability=0.5, gain_db=6.0, seed=0, spectra=False,
                 vocal_speed=0.0, voice_variants=None, vocal_effects=False):
        if vocal_speed < 0:
            raise ValueError(f"vocal_speed must not be negative, got {vocal_speed}")
        self.config = config
        self.spectra = spectra
        self.remix_probability = remix_probability
        self.gain_db = gain_db
        self.seed = seed
        self.vocal_speed = vocal_speed
        self.vocal_effects = None
        if vocal_effects:  # scipy.signal stays unimported when the option is off
            from keras_sa.data.vocal_effects import kind

            self.vocal_effects = kind(vocal_effects)
        # Samples whose uncentred STFT has exactly patch_frames frames: the
        # frames of a song's own STFT, with no padding at the patch edges.
        self.segment = (config.patch_frames - 1) * config.hop_length + config.n_fft
        if voice_variants is not None and len(voice_variants) != len(sources):
            raise ValueError("voice_variants needs one array of variants per source")
        vocals, accompaniment, lengths = [], [], []
        for index, item in enumerate(sources):
            v, a = item.vocals, item.accompaniment
            if voice_variants is not None:
                if voice_variants[index].shape[1:] != (len(v),):
                    raise ValueError(f"{item.name}: its voice variants differ in length from its vocals")
                v = np.concatenate([v[np.newaxis], voice_variants[index]])
            v = np.atleast_2d(v)
            if v.shape[1] < self.segment:  # short clips are zero-padded to one segment
                v = np.pad(v, ((0, 0), (0, self.segment - v.shape[1])))
                a = np.pad(a, (0, self.segment - len(a)))
            vocals.append(v)
            accompaniment.append(a)
            lengths.append(v.shape[1])
        if not lengths:
            raise ValueError("no sources to cut patches from")
        # One bank per voice, every track at the same place in each: row 0
        # holds the original vocals, the other rows their variants.
        self.voices = np.concatenate(vocals, axis=1).astype(np.float32)
        self.vocals = self.voices[0]
        self.accompaniment = np.concatenate(accompaniment).astype(np.float32)
        self.lengths = np.asarray(lengths, np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)

    @property
    def shapes(self):
        """Shapes of the arrays of one example, inputs first, targets last."""
        c = self.config
        one = (c.patch_frames, c.n_bins, 1)
        if self.spectra:
            return one, one, one, one, (c.patch_frames, c.n_bins, 3 * len(c.sources))
        return one, one, (c.patch_frames, c.n_bins, len(c.sources))

    def example(self, vocal_start, accompaniment_start, vocal_gain=1.0, accompaniment_gain=1.0,
                vocal_speed=1.0, voice=0, effects=None):
        """The example whose sources start at these positions of the bank.

        ``vocal_speed`` other than 1 reads ``segment * vocal_speed`` vocal
        samples from ``vocal_start`` on and resamples them to one segment.
        ``voice`` picks the original vocals (0) or one of their variants;
        ``effects`` are settings of :func:`keras_sa.data.vocal_effects.draw`.
        """
        c = self.config
        bank = self.voices[voice]
        if vocal_speed == 1.0:
            vocals = bank[vocal_start : vocal_start + self.segment]
        else:
            vocals = self._sped_up_vocals(bank, vocal_start, vocal_speed)
        if effects is not None:
            from keras_sa.data import vocal_effects

            vocals = vocal_effects.apply(vocals, c.sample_rate, effects)
        vocals = vocals * vocal_gain
        accompaniment = self.accompaniment[accompaniment_start : accompaniment_start + self.segment]
        accompaniment = accompaniment * accompaniment_gain
        signals = np.stack([vocals + accompaniment, vocals, accompaniment])
        spectra = stft(signals, c, center=False)[..., : c.n_bins]
        magnitudes = np.abs(spectra)
        features, scale = model_input(magnitudes[0], c)
        targets = np.stack([magnitudes[1], magnitudes[2]], axis=-1) / scale[..., np.newaxis]
        example = [features[..., np.newaxis], (magnitudes[0] / scale)[..., np.newaxis]]
        if self.spectra:
            sources = np.moveaxis(spectra[1:], 0, -1) / scale[..., np.newaxis]
            example += [(spectra[0].real / scale)[..., np.newaxis], (spectra[0].imag / scale)[..., np.newaxis]]
            targets = np.concatenate([targets, sources.real, sources.imag], axis=-1)
        return tuple(part.astype(np.float32) for part in example + [targets])

    def _sped_up_vocals(self, bank, start, speed):
        length = int(np.ceil(self.segment * speed))
        pad = int(np.ceil(_SPEED_PAD * speed))
        # The bank holds every track back to back, so at a track's ends the
        # padding reads a neighbour's samples: they reach the kept part only
        # through the tails of the resampling filter, far below the signal.
        first = max(start - pad, 0)
        read = bank[first : start + length + pad]
        # soxr keeps the output aligned with the input: input sample k lands
        # at output position k / speed.
        out = soxr.resample(read, speed, 1.0, quality="HQ")
        skip = int(round((start - first) / speed))
        vocals = out[skip : skip + self.segment]
        if len(vocals) < self.segment:  # the end of the bank
            vocals = np.pad(vocals, (0, self.segment - len(vocals)))
        return vocals

    def random_example(self, index):
        """Random example number ``index`` of the endless training stream."""
        rng = np.random.default_rng([self.seed, int(index)])
        count = len(self.lengths)
        vocal_track = rng.integers(count)
        remix = rng.random() < self.remix_probability
        accompaniment_track = rng.integers(count) if remix else vocal_track
        speed = 1.0
        if remix and self.vocal_speed:
            # Drawn only when asked for: with vocal_speed=0 the stream of
            # examples is the one it was before the option existed.
            speed = float(np.exp(rng.uniform(-1.0, 1.0) * np.log1p(self.vocal_speed)))
            if int(np.ceil(self.segment * speed)) > self.lengths[vocal_track]:
                speed = 1.0  # a clip too short to be read faster
        vocal_length = int(np.ceil(self.segment * speed))
        offset = rng.integers(self.lengths[vocal_track] - vocal_length + 1)
        vocal_start = self.starts[vocal_track] + offset
        if remix:
            offset = rng.integers(self.lengths[accompaniment_track] - self.segment + 1)
            gains = 10.0 ** (rng.uniform(-1.0, 1.0, size=2) * self.gain_db / 20.0)
        else:
            gains = (1.0, 1.0)
        accompaniment_start = self.starts[accompaniment_track] + offset
        # Drawn last and only when asked for, so that the draws above stay
        # the stream they were without these options.
        voice = int(rng.integers(len(self.voices))) if remix and len(self.voices) > 1 else 0
        effects = None
        if remix and self.vocal_effects:
            from keras_sa.data import vocal_effects

            effects = vocal_effects.draw(rng, room=self.vocal_effects == "eq+room")
        return self.example(
            vocal_start, accompaniment_start, *gains, vocal_speed=speed, voice=voice, effects=effects
        )

    def validation_starts(self):
        """Starts of every non-overlapping patch of every track, in order."""
        step = self.config.patch_frames * self.config.hop_length
        return np.concatenate(
            [start + np.arange(0, length - self.segment + 1, step)
             for start, length in zip(self.starts, self.lengths)]
        ).astype(np.int64)


def _batch(examples):
    *inputs, targets = (np.stack(parts) for parts in zip(*examples))
    return tuple(inputs), targets


def _keras_py_dataset():
    import keras

    return keras.utils.PyDataset


class PatchBatches(_keras_py_dataset()):
    """Batches of :class:`PatchSource` examples for ``model.fit`` on any backend.

    Args:
        source: a :class:`PatchSource`.
        batch_size: examples per batch.
        batches: number of batches (``len``); training batches are random
            and endless, so this is only what one pass yields.
        validation: yield the fixed validation patches in order instead
            (``batches`` is then their count, the last batch may be short).
        first_epoch: number of passes already made (by a run being resumed):
            the first pass yields the examples that follow theirs.
        **kwargs: ``keras.utils.PyDataset`` options (``workers``, ...).
    """

    def __init__(self, source, batch_size=8, batches=250, validation=False, first_epoch=0, **kwargs):
        super().__init__(**kwargs)
        self.source = source
        self.batch_size = batch_size
        self.validation = validation
        if validation:
            self.starts = source.validation_starts()
            batches = -(-len(self.starts) // batch_size)
        self.batches = batches
        self.epoch = first_epoch

    def on_epoch_end(self):
        self.epoch += 1  # the next pass draws new random examples

    def __len__(self):
        return self.batches

    def __getitem__(self, index):
        first = (self.epoch * self.batches + index) * self.batch_size
        if self.validation:
            first = index * self.batch_size
            return _batch([self.source.example(s, s) for s in self.starts[first : first + self.batch_size]])
        return _batch([self.source.random_example(first + k) for k in range(self.batch_size)])
