"""Tests of keras_sa.training: losses, the training wrapper, fit and resume."""

import csv
import json

import keras
import numpy as np
import pytest

from keras_sa import data, models, training
from keras_sa.data import pipeline

from configs import SMALL_TWO_STACKS

SIGNAL = SMALL_TWO_STACKS.signal
# What fit trains: SMALL_TWO_STACKS with one down-sampling instead of two
# (still two stacks with SkipAttention), which halves the cost of tracing the
# steps.
FIT_CONFIG = SMALL_TWO_STACKS.replace(name="tiny", depth=1, channels=(4, 8))
FIT_EPOCHS, FIT_STEPS_PER_EPOCH = 5, 10
TRAIN_CLIPS = ("abjones_1_01", "abjones_4_05", "amy_12_03", "amy_4_01")


def read_history(out_dir):
    with open(out_dir / "history.csv", newline="") as file:
        return list(csv.DictReader(file))


@pytest.fixture(scope="module")
def datasets(mir1k_root):
    """A tiny set of real MIR-1K patches that a small model can visibly fit.

    Sixteen one-segment excerpts, four from each of four training clips. The
    training stream repeats them in two fixed batches, so that every epoch
    sees each patch equally often and epoch losses compare without sampling
    noise; validation is the same sixteen patches in one batch.
    """
    tracks = {t.name: t for t in data.discover(mir1k_root)}
    clips = data.load_sources([tracks[n] for n in TRAIN_CLIPS], SIGNAL.sample_rate)
    segment = (SIGNAL.patch_frames - 1) * SIGNAL.hop_length + SIGNAL.n_fft
    patches = []
    for clip in clips:
        for k in range(4):
            start = SIGNAL.sample_rate * (1 + k)
            patches.append(
                data.Sources(
                    f"{clip.name}@{k}",
                    clip.vocals[start : start + segment],
                    clip.accompaniment[start : start + segment],
                )
            )

    def make():
        return (
            pipeline.validation_dataset(patches, SIGNAL, batch_size=8).repeat(),
            pipeline.validation_dataset(patches, SIGNAL, batch_size=len(patches)),
        )

    return make


# ---------------------------------------------------------------------------
# losses and the training wrapper


def test_deep_supervision_loss_matches_numpy():
    rng = np.random.default_rng(0)
    y_true = rng.random((3, 16, 64, 2)).astype("float32")
    y_pred = rng.random((3, 4, 16, 64, 2)).astype("float32")
    expected = sum(np.mean(np.abs(y_pred[:, s] - y_true)) for s in range(4))
    loss = training.DeepSupervisionL1()(y_true, y_pred)
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)

    metric = training.FinalStackL1()
    metric.update_state(y_true, y_pred)
    final = np.mean(np.abs(y_pred[:, -1] - y_true))
    np.testing.assert_allclose(float(metric.result()), final, rtol=1e-5)
    # Perfect last stack: zero final loss, but the earlier stacks still count.
    y_pred[:, -1] = y_true
    metric.reset_state()
    metric.update_state(y_true, y_pred)
    assert float(metric.result()) == 0
    assert float(training.DeepSupervisionL1()(y_true, y_pred)) > 0
    restored = keras.losses.deserialize(keras.losses.serialize(training.DeepSupervisionL1()))
    assert isinstance(restored, training.DeepSupervisionL1)


def test_training_model_applies_every_stacks_masks():
    keras.utils.set_random_seed(0)
    model = models.build(SMALL_TWO_STACKS)
    wrapper = training.build_training_model(model)
    rng = np.random.default_rng(1)
    features = rng.random((3, 16, 64, 1)).astype("float32")
    mixture = rng.random((3, 16, 64, 1)).astype("float32")
    estimates = keras.ops.convert_to_numpy(wrapper([features, mixture], training=False))
    assert estimates.shape == (3, 2, 16, 64, 2)
    masks = [keras.ops.convert_to_numpy(m) for m in model(features, training=False)]
    assert len(masks) == 2
    for stack, mask in enumerate(masks):
        np.testing.assert_allclose(estimates[:, stack], mask * mixture, rtol=1e-5, atol=1e-7)
    # The wrapper shares the separation model's weights.
    assert {id(w) for w in model.weights} <= {id(w) for w in wrapper.weights}


def test_learning_rate_schedule_warms_up_and_decays():
    schedule = training.learning_rate_schedule(1000, learning_rate=1e-3)
    rates = [float(schedule(step)) for step in (0, 50, 100, 500, 1000)]
    assert rates[0] == pytest.approx(1e-5)
    assert rates[2] == pytest.approx(1e-3)
    assert rates[0] < rates[1] < rates[2] > rates[3] > rates[4]
    assert rates[4] == pytest.approx(2e-5, rel=1e-3)


# ---------------------------------------------------------------------------
# fit
#
# Every call of fit traces the train and test steps, which on a loaded CPU
# costs far more than the steps themselves. So the fit tests share one run
# that is killed after its second epoch and resumed to the end: one test
# checks what a finished run learned and wrote, the other how it resumed.
# (train_on_dataset below runs fit once more, uninterrupted.)


class Killed(Exception):
    """Stands in for the process being killed."""


@pytest.fixture(scope="module")
def resumed_run(tmp_path_factory, datasets):
    out = tmp_path_factory.mktemp("fit") / "run"
    fit_args = dict(
        steps=FIT_EPOCHS * FIT_STEPS_PER_EPOCH,
        steps_per_epoch=FIT_STEPS_PER_EPOCH,
        learning_rate=1e-2,
        config=FIT_CONFIG,
        verbose=0,
    )

    class KillAfterSecondEpoch(keras.callbacks.CSVLogger):
        # CSVLogger runs after BackupAndRestore and SaveSeparationModel: by
        # the time it has written epoch 2's row, the backup holds epoch 2.
        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)
            if epoch == 1:
                self.csv_file.close()
                raise Killed

    def build():
        return models.build(FIT_CONFIG)

    compiled = []
    original = training.compile_for_training

    def compile_for_training(*args, **kwargs):
        compiled.append(original(*args, **kwargs))
        return compiled[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training.loop, "compile_for_training", compile_for_training)
        with pytest.MonkeyPatch.context() as kill:
            kill.setattr(keras.callbacks, "CSVLogger", KillAfterSecondEpoch)
            keras.utils.set_random_seed(0)
            train_data, validation_data = datasets()
            with pytest.raises(Killed):
                training.fit(build, train_data, validation_data, out, **fit_args)
        killed = {
            "backup": json.loads((out / "backup" / "training_metadata.json").read_text()),
            "history": read_history(out),
            "best": json.loads((out / "best.json").read_text()),
        }
        # A new process: fresh model and datasets, the same run folder.
        keras.utils.set_random_seed(1)
        train_data, validation_data = datasets()
        model = training.fit(build, train_data, validation_data, out, **fit_args)
    return {"out": out, "model": model, "killed": killed, "compiled": compiled}


def test_fit_learns_and_writes_a_run_folder(resumed_run):
    out = resumed_run["out"]
    history = read_history(out)
    assert [int(row["epoch"]) for row in history] == list(range(FIT_EPOCHS))
    losses = [float(row["loss"]) for row in history]
    validation = [float(row["val_final_l1"]) for row in history]
    print("loss", losses, "val_final_l1", validation)
    # The training loss falls every epoch (the resume included), by about a
    # fifth over the run. (Validation runs the model in inference mode, on
    # batch-norm statistics that 50 steps at momentum 0.99 have barely moved:
    # it is no measure of learning in a run this short.)
    assert all(later < earlier for earlier, later in zip(losses, losses[1:]))
    assert losses[-1] < 0.85 * losses[0]

    for name in ("best.keras", "last.keras", "history.csv", "best.json"):
        assert (out / name).is_file(), name
    assert any((out / "logs").rglob("*tfevents*")) == training.has_tensorboard()
    best = json.loads((out / "best.json").read_text())
    assert best["monitor"] == "val_final_l1"
    assert best["value"] == pytest.approx(min(validation), rel=1e-5)
    assert best["epoch"] == 1 + int(np.argmin(validation))

    loaded, config = models.load_model(out / "best.keras")
    assert config == FIT_CONFIG
    assert isinstance(loaded, keras.Model)
    last, _ = models.load_model(out / "last.keras")
    features = np.random.default_rng(2).random((1, 16, 64, 1)).astype("float32")
    trained = resumed_run["model"](features, training=False)
    for a, b in zip(trained, last(features, training=False)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def test_fit_resumes_after_a_kill(resumed_run):
    killed, out = resumed_run["killed"], resumed_run["out"]
    assert killed["backup"]["epoch"] == 2
    assert [int(row["epoch"]) for row in killed["history"]] == [0, 1]
    # The second call started at epoch 3: no epoch was run twice.
    history = read_history(out)
    assert [int(row["epoch"]) for row in history] == list(range(FIT_EPOCHS))
    assert history[:2] == killed["history"]
    # The optimizer state came back (its step count spans both calls) ...
    resumed = resumed_run["compiled"][-1]
    assert int(resumed.optimizer.iterations) == FIT_EPOCHS * FIT_STEPS_PER_EPOCH
    # ... and so did the weights: the first resumed epoch continues from the
    # trained state rather than from a fresh initialization.
    losses = [float(row["loss"]) for row in history]
    assert losses[2] < losses[0]
    best = json.loads((out / "best.json").read_text())
    assert best["value"] <= killed["best"]["value"]


# ---------------------------------------------------------------------------
# train_on_dataset


TRAIN_ARGS = dict(steps=4, batch_size=16, steps_per_epoch=2, learning_rate=3e-3, verbose=0)


@pytest.fixture(scope="module")
def dataset_root(tmp_path_factory, mir1k_root):
    """Six training-singer clips and two test-singer clips, linked into one folder."""
    root = tmp_path_factory.mktemp("dataset")
    clips = (*TRAIN_CLIPS, "amy_16_01", "abjones_2_03", "tammy_1_01", "Ani_1_01")
    for clip in clips:
        if not (mir1k_root / clip).is_dir():
            pytest.skip(f"{clip} not found in {mir1k_root}")
        (root / clip).symlink_to(mir1k_root / clip, target_is_directory=True)
    return root


@pytest.fixture(scope="module")
def uninterrupted_run(tmp_path_factory, dataset_root):
    out = tmp_path_factory.mktemp("train") / "run"
    model = training.train_on_dataset(dataset_root, FIT_CONFIG, out, **TRAIN_ARGS)
    return out, model


def test_train_on_dataset_uses_only_training_singers(uninterrupted_run, dataset_root):
    out, model = uninterrupted_run
    assert isinstance(model, keras.Model)
    run = json.loads((out / "run.json").read_text())
    train, validation = set(run["train_tracks"]), set(run["validation_tracks"])
    assert train and validation and not train & validation
    clips = {path.name for path in dataset_root.iterdir()}
    assert train | validation == clips - {"tammy_1_01", "Ani_1_01"}
    songs = {name.rsplit("_", 1)[0] for name in train}
    assert not songs & {name.rsplit("_", 1)[0] for name in validation}
    assert models.ModelConfig.from_dict(run["model"]) == FIT_CONFIG
    # An uninterrupted run writes every artifact.
    assert [int(row["epoch"]) for row in read_history(out)] == [0, 1]
    for name in ("best.keras", "last.keras", "best.json"):
        assert (out / name).is_file(), name
    assert any((out / "logs").rglob("*tfevents*")) == training.has_tensorboard()
    _, config = models.load_model(out / "last.keras")
    assert config == FIT_CONFIG


def test_train_on_dataset_resumes_where_the_examples_stopped(tmp_path, dataset_root, uninterrupted_run):
    """Killed after its first epoch and run again, a run ends where an uninterrupted one does."""
    out = tmp_path / "run"
    starts = []
    original = pipeline.training_dataset

    def training_dataset(*args, **kwargs):
        starts.append(kwargs.get("first_example", 0))
        return original(*args, **kwargs)

    class KillAfterFirstEpoch(keras.callbacks.CSVLogger):
        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)
            self.csv_file.close()
            raise Killed

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "training_dataset", training_dataset)
        with pytest.MonkeyPatch.context() as kill:
            kill.setattr(keras.callbacks, "CSVLogger", KillAfterFirstEpoch)
            with pytest.raises(Killed):
                training.train_on_dataset(dataset_root, FIT_CONFIG, out, **TRAIN_ARGS)
        assert training.completed_epochs(out) == 1
        training.train_on_dataset(dataset_root, FIT_CONFIG, out, **TRAIN_ARGS)
    # The second call skipped the first epoch's 2 x 16 examples ...
    assert starts == [0, TRAIN_ARGS["steps_per_epoch"] * TRAIN_ARGS["batch_size"]]
    assert training.completed_epochs(out) == 2
    # ... so it trained on the batches the uninterrupted run trained on: the
    # two runs end with the same weights (to float rounding), where a resume
    # that replayed the first epoch's examples ends elsewhere.
    resumed, _ = models.load_model(out / "last.keras")
    reference, _ = models.load_model(uninterrupted_run[0] / "last.keras")
    for a, b in zip(resumed.weights, reference.weights):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5, err_msg=a.path)


def test_unreadable_resume_state_is_one_clear_error(tmp_path):
    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / "training_metadata.json").write_text("{not json")
    with pytest.raises(training.ResumeStateError, match="training_metadata.json: unreadable resume state"):
        training.completed_epochs(tmp_path)
    assert training.completed_epochs(tmp_path / "new") == 0


def test_train_on_dataset_starts_from_an_initial_model(tmp_path, dataset_root, uninterrupted_run):
    """A warm restart begins from the given model's weights, and its run records the file."""
    initial_path = uninterrupted_run[0] / "last.keras"
    initial, _ = models.load_model(initial_path)
    out = tmp_path / "warm"
    # A learning rate so small that the trained weights cannot move visibly:
    # what the run ends with is what it started from.
    args = dict(TRAIN_ARGS, steps=2, learning_rate=1e-12)
    keras.utils.set_random_seed(5)
    model = training.train_on_dataset(dataset_root, FIT_CONFIG, out, initial_model=initial_path, **args)
    for a, b in zip(model.trainable_weights, initial.trainable_weights):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-7, err_msg=a.path)
    # A fresh initialization would be far from it.
    fresh = models.build(FIT_CONFIG)
    assert max(
        float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
        for a, b in zip(fresh.trainable_weights, initial.trainable_weights)
    ) > 0.1
    run = json.loads((out / "run.json").read_text())
    assert run["initial_model"]["path"] == str(initial_path)
    assert len(run["initial_model"]["sha256"]) == 64

    other = FIT_CONFIG.replace(name="other", channels=(4, 6))
    with pytest.raises(models.ModelFileError, match="differs from the model to train"):
        training.train_on_dataset(dataset_root, other, tmp_path / "other", initial_model=initial_path, **args)


# ---------------------------------------------------------------------------
# mixed precision


class KillAfterFirstEpoch(keras.callbacks.CSVLogger):
    """Stands in for a kill after the first epoch's checkpoints are written."""

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        self.csv_file.close()
        raise Killed


def test_with_precision_computes_in_bfloat16_with_float32_masks():
    keras.utils.set_random_seed(0)
    model = models.build(SMALL_TWO_STACKS)
    assert training.with_precision(model, "float32") is model
    mixed = training.with_precision(model, "mixed_bfloat16")
    policies = {layer.name: layer.dtype_policy.name for layer in mixed.layers[1:]}
    assert policies.pop("stack0_masks") == policies.pop("stack1_masks") == "float32"
    assert set(policies.values()) == {"mixed_bfloat16"}
    assert mixed.get_layer("stack0_level0_attention").compute_dtype == "bfloat16"
    assert {w.dtype for w in mixed.weights} == {"float32"}
    for a, b in zip(mixed.weights, model.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # The default policy is untouched: a model built afterwards is float32.
    assert keras.config.dtype_policy().name == "float32"

    features = np.random.default_rng(1).random((2, 16, 64, 1)).astype("float32")
    exact = [np.asarray(m) for m in model(features, training=False)]
    approximate = mixed(features, training=False)
    assert [m.dtype for m in approximate] == ["float32", "float32"]
    approximate = [np.asarray(m) for m in approximate]
    # bfloat16 keeps 8 bits of mantissa: close to float32, not equal to it.
    for a, b in zip(approximate, exact):
        assert 0 < np.max(np.abs(a - b)) < 0.1
    wrapper = training.build_training_model(mixed)
    assert wrapper([features, features], training=False).dtype == "float32"
    with pytest.raises(ValueError, match="unknown precision 'float16'"):
        training.with_precision(model, "float16")


def test_mixed_precision_run_warm_starts_resumes_and_saves_float32(tmp_path, dataset_root, uninterrupted_run):
    """A mixed_bfloat16 run from --init, killed and resumed, writes float32 models."""
    from keras_sa import predictors
    from keras_sa.separation import Separator

    initial_path = uninterrupted_run[0] / "last.keras"
    initial, _ = models.load_model(initial_path)
    out = tmp_path / "mixed"
    # A learning rate so small that the weights cannot move: the run ends
    # where it started, which must be the initial model.
    args = dict(TRAIN_ARGS, learning_rate=1e-12, precision="mixed_bfloat16", initial_model=initial_path)
    with pytest.MonkeyPatch.context() as kill:
        kill.setattr(keras.callbacks, "CSVLogger", KillAfterFirstEpoch)
        with pytest.raises(Killed):
            training.train_on_dataset(dataset_root, FIT_CONFIG, out, **args)
    assert training.completed_epochs(out) == 1
    model = training.train_on_dataset(dataset_root, FIT_CONFIG, out, **args)
    assert training.completed_epochs(out) == 2
    assert [int(row["epoch"]) for row in read_history(out)] == [0, 1]
    assert json.loads((out / "run.json").read_text())["precision"] == "mixed_bfloat16"
    for a, b in zip(model.trainable_weights, initial.trainable_weights):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-7, err_msg=a.path)

    saved, config = models.load_model(out / "last.keras")
    assert {layer.dtype_policy.name for layer in saved.layers[1:]} == {"float32"}
    assert {w.dtype for w in saved.weights} == {"float32"}
    for a, b in zip(saved.weights, model.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)
    # It separates exactly as a float32 model built with its weights does.
    reference = models.build(config)
    reference.set_weights(saved.get_weights())
    clip = data.load_sources([t for t in data.discover(dataset_root) if t.name == TRAIN_CLIPS[0]], SIGNAL.sample_rate)[0]
    mixture = clip.mixture[: 2 * SIGNAL.sample_rate]
    ours = Separator(predictors.KerasPredictor(saved, config)).separate(mixture, SIGNAL.sample_rate)
    theirs = Separator(predictors.KerasPredictor(reference, config)).separate(mixture, SIGNAL.sample_rate)
    np.testing.assert_array_equal(ours["vocals"], theirs["vocals"])
    assert np.any(ours["vocals"])


# ---------------------------------------------------------------------------
# the time-domain SDR objective


def _segments(mir1k_root, signal, count):
    """``count`` real mixture, vocal and accompaniment segments of one patch each."""
    tracks = {t.name: t for t in data.discover(mir1k_root)}
    clip = data.load_sources([tracks[TRAIN_CLIPS[0]]], signal.sample_rate)[0]
    segment = (signal.patch_frames - 1) * signal.hop_length + signal.n_fft
    starts = [signal.sample_rate * (1 + k) for k in range(count)]
    return [clip.vocals[s : s + segment] for s in starts], [clip.accompaniment[s : s + segment] for s in starts]


@pytest.mark.parametrize("preset", ["tiny", "sa_shn_mobile"])
def test_patch_signals_inverts_an_uncentred_stft(mir1k_root, preset):
    from keras_sa.audio.signal import stft

    signal = SIGNAL if preset == "tiny" else models.get_preset(preset).signal
    vocals, _ = _segments(mir1k_root, signal, 2)
    samples = np.stack(vocals)
    spectrum = stft(samples, signal, center=False)  # every bin, Nyquist included
    assert spectrum.shape[-2] == signal.patch_frames
    restored = keras.ops.convert_to_numpy(
        training.patch_signals(spectrum.real, spectrum.imag, signal.n_fft, signal.hop_length)
    )
    first, last = signal.n_fft - signal.hop_length, signal.patch_frames * signal.hop_length
    assert restored.shape == (2, last - first)
    np.testing.assert_allclose(restored, samples[:, first:last], atol=1e-5 * np.max(np.abs(samples)))
    # Without the Nyquist bin (the model band) the samples change by a trace.
    band = spectrum[..., : signal.n_bins]
    banded = keras.ops.convert_to_numpy(training.patch_signals(band.real, band.imag, signal.n_fft, signal.hop_length))
    error = np.sum((banded - samples[:, first:last]) ** 2) / np.sum(samples[:, first:last] ** 2)
    assert 0 < error < 1e-3


def test_time_domain_sdr_is_the_batch_sdr_of_the_samples(mir1k_root):
    """On real patches: -loss is SDR = 10 log10(sum s^2 / sum (s - s_hat)^2), batch-summed, mean over sources."""
    from keras_sa.data.patches import PatchSource

    vocals, accompaniment = _segments(mir1k_root, SIGNAL, 3)
    source = PatchSource([data.Sources(f"p{k}", v, a) for k, (v, a) in enumerate(zip(vocals, accompaniment))],
                         SIGNAL, spectra=True)
    starts = source.validation_starts()
    _, packed = _batch_of(source, starts)
    sources = len(SIGNAL.sources)
    sdr = training.TimeDomainSDR(SIGNAL.n_fft, SIGNAL.hop_length)

    # Half of every source: SDR = 20 log10(2) exactly, whatever the signals.
    half = packed.copy()
    half[..., sources:] *= 0.5
    y_pred = np.stack([packed, half], axis=1)  # the loss scores the final stack alone
    assert float(sdr(packed, y_pred)) == pytest.approx(-20 * np.log10(2), abs=1e-4)

    # An estimate off by a known error: the SDR of the time signals, by numpy.
    rng = np.random.default_rng(0)
    noisy = packed.copy()
    noisy[..., sources:] += 0.02 * rng.standard_normal(noisy[..., sources:].shape).astype("float32")

    def samples(p):
        real = np.moveaxis(p[..., sources : 2 * sources], -1, 1)
        imag = np.moveaxis(p[..., 2 * sources :], -1, 1)
        return keras.ops.convert_to_numpy(training.patch_signals(real, imag, SIGNAL.n_fft, SIGNAL.hop_length))

    s, s_hat = samples(packed), samples(noisy)
    expected = np.mean(10 * np.log10(np.sum(s**2, axis=(0, 2)) / np.sum((s - s_hat) ** 2, axis=(0, 2))))
    assert float(sdr(packed, noisy[:, np.newaxis])) == pytest.approx(-expected, abs=1e-3)
    metric = training.FinalStackSDR(SIGNAL.n_fft, SIGNAL.hop_length)
    metric.update_state(packed, noisy[:, np.newaxis])
    assert float(metric.result()) == pytest.approx(expected, abs=1e-3)
    # The references are the sources' own samples, divided by the patch's
    # normalization (its mixture's peak magnitude) and band-limited by the
    # model's bins.
    from keras_sa.audio.signal import stft

    first, last = SIGNAL.n_fft - SIGNAL.hop_length, SIGNAL.patch_frames * SIGNAL.hop_length
    for k, (v, a) in enumerate(zip(vocals, accompaniment)):
        peak = np.max(np.abs(stft(v + a, SIGNAL, center=False)[..., : SIGNAL.n_bins]))
        for reference, restored in ((v, s[k, 0]), (a, s[k, 1])):
            reference = reference[first:last]
            assert np.sum((restored * peak - reference) ** 2) < 1e-3 * np.sum(reference**2)

    combined = training.L1PlusSDR(SIGNAL.n_fft, SIGNAL.hop_length, sources, sdr_weight=0.5)
    l1 = training.DeepSupervisionL1(sources)(packed, y_pred)
    assert float(combined(packed, y_pred)) == pytest.approx(float(l1) - 0.5 * 20 * np.log10(2), abs=1e-4)


def _batch_of(source, starts):
    *inputs, targets = (np.stack(parts) for parts in zip(*[source.example(s, s) for s in starts]))
    return tuple(inputs), targets


def test_sdr_objective_trains_through_the_masks(datasets, mir1k_root):
    """A few steps on real training patches raise the SDR the loss measures."""
    tracks = {t.name: t for t in data.discover(mir1k_root)}
    clips = data.load_sources([tracks[n] for n in TRAIN_CLIPS], SIGNAL.sample_rate)
    batches = iter(pipeline.training_dataset(clips, SIGNAL, batch_size=16, seed=0, spectra=True))
    (features, mixture, real, imag), targets = next(batches)
    assert features.shape == mixture.shape == real.shape == imag.shape == (16, 16, 64, 1)
    assert targets.shape == (16, 16, 64, 6)
    # The packed magnitudes are those of the packed spectra.
    np.testing.assert_allclose(np.hypot(targets[..., 2:4], targets[..., 4:6]), targets[..., :2], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.hypot(real, imag), mixture, rtol=1e-4, atol=1e-6)

    keras.utils.set_random_seed(0)
    model = models.build(FIT_CONFIG)
    trainer = training.compile_for_training(model, steps=100, learning_rate=1e-2, objective="sdr", signal=SIGNAL)
    batch = ([features, mixture, real, imag], targets)
    losses = [float(trainer.train_on_batch(*batch)[0]) for _ in range(12)]
    print("sdr losses", losses)
    assert losses[-1] < losses[0] - 1.0  # at least 1 dB better on the batch it trains on
    logs = trainer.evaluate(*batch, verbose=0, return_dict=True)
    assert set(logs) >= {"loss", "final_l1", "final_sdr"}
    assert logs["final_sdr"] == pytest.approx(-logs["loss"], abs=1e-3)
    with pytest.raises(ValueError, match="needs the model's signal config"):
        training.compile_for_training(model, steps=10, objective="l1+sdr")
    with pytest.raises(ValueError, match="unknown objective 'si-sdr'"):
        training.compile_for_training(model, steps=10, objective="si-sdr")


def test_sdr_run_resumes(tmp_path, dataset_root):
    out = tmp_path / "sdr"
    args = dict(TRAIN_ARGS, objective="l1+sdr")
    with pytest.MonkeyPatch.context() as kill:
        kill.setattr(keras.callbacks, "CSVLogger", KillAfterFirstEpoch)
        with pytest.raises(Killed):
            training.train_on_dataset(dataset_root, FIT_CONFIG, out, **args)
    assert training.completed_epochs(out) == 1
    training.train_on_dataset(dataset_root, FIT_CONFIG, out, **args)
    assert training.completed_epochs(out) == 2
    history = read_history(out)
    assert [int(row["epoch"]) for row in history] == [0, 1]
    assert all(np.isfinite(float(row[key])) for row in history for key in ("final_sdr", "val_final_sdr", "val_final_l1"))
    run = json.loads((out / "run.json").read_text())
    assert run["objective"] == "l1+sdr" and run["sdr_weight"] == training.SDR_WEIGHT
    _, config = models.load_model(out / "best.keras")
    assert config == FIT_CONFIG


# ---------------------------------------------------------------------------
# selection by GNSDR


def test_gnsdr_selection_scores_whole_songs_and_survives_a_resume(tmp_path, dataset_root):
    """best.keras is the best by validation GNSDR (mir_eval), kept across a kill."""
    from keras_sa import evaluation
    from keras_sa.separation import Separator

    out = tmp_path / "gnsdr"
    args = dict(TRAIN_ARGS, steps=6, select="gnsdr", select_every=2)  # 3 epochs: scored after 2 and 3

    class KillAfterSecondEpoch(keras.callbacks.CSVLogger):
        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)
            if epoch == 1:
                self.csv_file.close()
                raise Killed

    with pytest.MonkeyPatch.context() as kill:
        kill.setattr(keras.callbacks, "CSVLogger", KillAfterSecondEpoch)
        with pytest.raises(Killed):
            training.train_on_dataset(dataset_root, FIT_CONFIG, out, **args)
    history = read_history(out)
    assert np.isnan(float(history[0]["val_gnsdr_vocals"]))  # not an evaluation epoch
    scored = float(history[1]["val_gnsdr_vocals"])
    assert np.isfinite(scored) and np.isfinite(float(history[1]["val_gnsdr_accompaniment"]))
    best = json.loads((out / "best.json").read_text())
    assert best == {"epoch": 2, "monitor": "val_gnsdr_vocals", "value": pytest.approx(scored)}

    # The logged figure is that of the saved model on the held-out songs, by
    # the project's protocol.
    run = json.loads((out / "run.json").read_text())
    assert run["select"] == "gnsdr" and run["select_every"] == 2 and run["select_monitor"] == "val_gnsdr_vocals"
    tracks = [t for t in data.discover(dataset_root) if t.name in run["validation_tracks"]]
    assert tracks
    separator = Separator.from_file(out / "best.keras")
    records = evaluation.evaluate_tracks(evaluation.TrackClips(tracks, SIGNAL.sample_rate), separator.estimator(),
                                         progress=False)
    assert evaluation.summarize(records)["vocals_gnsdr"] == pytest.approx(scored, abs=1e-3)

    # The best so far survives the kill: made unbeatable, it keeps the
    # resumed run from replacing best.keras.
    (out / "best.json").write_text(json.dumps(dict(best, value=99.0)))
    saved = (out / "best.keras").read_bytes()
    training.train_on_dataset(dataset_root, FIT_CONFIG, out, **args)
    history = read_history(out)
    assert [int(row["epoch"]) for row in history] == [0, 1, 2]
    assert np.isfinite(float(history[2]["val_gnsdr_vocals"]))  # the last epoch is always scored
    assert json.loads((out / "best.json").read_text())["value"] == 99.0
    assert (out / "best.keras").read_bytes() == saved
    assert np.isfinite(float(history[2]["val_final_l1"]))  # the L1 is still logged


def test_selection_options_are_checked(tmp_path, dataset_root):
    with pytest.raises(ValueError, match="unknown select 'sdr'"):
        training.train_on_dataset(dataset_root, FIT_CONFIG, tmp_path / "a", select="sdr", **TRAIN_ARGS)
    with pytest.raises(ValueError, match="select_every must be at least 1"):
        training.train_on_dataset(dataset_root, FIT_CONFIG, tmp_path / "b", select="gnsdr", select_every=0,
                                  **TRAIN_ARGS)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


# ---------------------------------------------------------------------------
# keras-sa train


def test_cli_train_passes_the_options_and_checks_them(tmp_path, dataset_root, capsys):
    import argparse

    from keras_sa import cli
    from keras_sa.cli import train as train_command

    commands = argparse.ArgumentParser().add_subparsers()
    train_command.register(commands)
    # The command spells its choices without importing training: they must agree.
    choices = {action.dest: tuple(action.choices or ()) for action in commands.choices["train"]._actions}
    assert choices["precision"] == training.PRECISIONS
    assert choices["objective"] == training.OBJECTIVES
    assert choices["select"] == tuple(training.SELECTIONS)

    run = tmp_path / "run"
    base = ["train", str(dataset_root), "-o", str(run)]
    assert cli.main([*base, "--select", "gnsdr", "--select-every", "0"]) == 1
    assert capsys.readouterr().err.strip().endswith("--select-every must be at least 1, got 0")
    assert cli.main([*base, "--vocal-speed", "1.5"]) == 1
    assert capsys.readouterr().err.strip().endswith("--vocal-speed must lie in [0, 1), got 1.5")
    assert cli.main([*base, "--singers", "nobody"]) == 1
    assert "no clips of the MIR-1K singers nobody" in capsys.readouterr().err
    assert not run.exists()
    config = tmp_path / "tiny.json"
    config.write_text(FIT_CONFIG.to_json())
    options = ["--precision", "mixed_bfloat16", "--objective", "l1+sdr", "--select", "gnsdr", "--select-every", "2",
               "--vocal-speed", "0.1", "--singers", "abjones"]
    assert cli.main([*base, "--config", str(config), "--steps", "2", "--steps-per-epoch", "1", "--batch-size", "4",
                     *options]) == 0
    recorded = json.loads((run / "run.json").read_text())
    assert (recorded["precision"], recorded["objective"], recorded["select"], recorded["select_every"]) == (
        "mixed_bfloat16", "l1+sdr", "gnsdr", 2)
    assert (recorded["vocal_speed"], recorded["train_singers"]) == (0.1, ["abjones"])
    assert {name.split("_")[0] for name in recorded["train_tracks"] + recorded["validation_tracks"]} == {"abjones"}
    history = read_history(run)
    assert np.isnan(float(history[0]["val_gnsdr_vocals"])) and np.isfinite(float(history[1]["val_gnsdr_vocals"]))
    assert json.loads((run / "best.json").read_text())["monitor"] == "val_gnsdr_vocals"
