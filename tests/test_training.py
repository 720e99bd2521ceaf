"""Tests of keras_sa.training: losses, the training wrapper, fit and resume."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import csv  # noqa: E402
import json  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from keras_sa import data, models, training  # noqa: E402
from keras_sa.data import pipeline  # noqa: E402

SMALL = models.ModelConfig(
    name="small",
    signal={"patch_frames": 16, "window_hop": 8, "n_bins": 64, "n_fft": 128, "hop_length": 32},
    stem_channels=(4,),
    stem_kernel=3,
    num_stacks=2,
    depth=2,
    channels=(4, 6, 8),
    merge="attention",
    mask_activation="sigmoid",
)
SIGNAL = SMALL.signal
TRAIN_CLIPS = ("abjones_1_01", "abjones_4_05", "amy_12_03", "amy_4_01")
VALIDATION_CLIPS = ("amy_16_01", "abjones_2_03")


def read_history(out_dir):
    with open(out_dir / "history.csv", newline="") as file:
        return list(csv.DictReader(file))


@pytest.fixture(scope="module")
def datasets(mir1k_root):
    """Tiny training and validation datasets of real MIR-1K patches."""
    tracks = {t.name: t for t in data.discover(mir1k_root)}
    train = data.load_sources([tracks[n] for n in TRAIN_CLIPS], SIGNAL.sample_rate)
    validation = data.load_sources([tracks[n] for n in VALIDATION_CLIPS], SIGNAL.sample_rate)
    # Two seconds of each validation clip keep validation quick (~120 patches).
    start, stop = 2 * SIGNAL.sample_rate, 4 * SIGNAL.sample_rate
    validation = [data.Sources(s.name, s.vocals[start:stop], s.accompaniment[start:stop]) for s in validation]

    def make():
        return (
            pipeline.training_dataset(train, SIGNAL, batch_size=8, seed=0),
            pipeline.validation_dataset(validation, SIGNAL, batch_size=32),
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
    np.testing.assert_allclose(float(metric.result()), np.mean(np.abs(y_pred[:, -1] - y_true)), rtol=1e-5)
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
    model = models.build(SMALL)
    wrapper = training.build_training_model(model)
    rng = np.random.default_rng(1)
    features = rng.random((3, 16, 64, 1)).astype("float32")
    mixture = rng.random((3, 16, 64, 1)).astype("float32")
    estimates = wrapper.predict([features, mixture], verbose=0)
    assert estimates.shape == (3, 2, 16, 64, 2)
    masks = model.predict(features, verbose=0)
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


def test_fit_learns_and_writes_a_run_folder(tmp_path, datasets):
    keras.utils.set_random_seed(0)
    train_data, validation_data = datasets()
    out = tmp_path / "run"
    model = training.fit(
        models.build(SMALL),
        train_data,
        validation_data,
        out,
        steps=100,
        steps_per_epoch=20,
        learning_rate=3e-3,
        config=SMALL,
        verbose=0,
    )
    history = read_history(out)
    assert [int(row["epoch"]) for row in history] == [0, 1, 2, 3, 4]
    losses = [float(row["loss"]) for row in history]
    validation = [float(row["val_final_l1"]) for row in history]
    print("loss", losses, "val_final_l1", validation)
    assert losses[-1] < 0.8 * losses[0]
    assert min(validation[1:]) < validation[0]

    for name in ("best.keras", "last.keras", "history.csv", "best.json"):
        assert (out / name).is_file(), name
    assert any((out / "logs").rglob("*tfevents*"))
    assert not (out / "backup").exists()  # a finished run leaves no resume state
    best = json.loads((out / "best.json").read_text())
    assert best["monitor"] == "val_final_l1"
    assert best["value"] == pytest.approx(min(validation), rel=1e-5)
    assert best["epoch"] == 1 + int(np.argmin(validation))

    loaded, config = models.load_model(out / "best.keras")
    assert config == SMALL
    last, _ = models.load_model(out / "last.keras")
    features = np.random.default_rng(2).random((1, 16, 64, 1)).astype("float32")
    for a, b in zip(model.predict(features, verbose=0), last.predict(features, verbose=0)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


class Killed(Exception):
    """Stands in for the process being killed."""


def test_fit_resumes_after_a_kill(tmp_path, datasets, monkeypatch):
    out = tmp_path / "run"
    steps, steps_per_epoch = 32, 8  # 4 epochs

    class KillAfterSecondEpoch(keras.callbacks.CSVLogger):
        # CSVLogger runs after BackupAndRestore and SaveSeparationModel: by
        # the time it has written epoch 2's row, the backup holds epoch 2.
        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)
            if epoch == 1:
                self.csv_file.close()
                raise Killed

    monkeypatch.setattr(keras.callbacks, "CSVLogger", KillAfterSecondEpoch)
    keras.utils.set_random_seed(0)
    train_data, validation_data = datasets()
    with pytest.raises(Killed):
        training.fit(
            lambda: models.build(SMALL), train_data, validation_data, out,
            steps, steps_per_epoch, learning_rate=3e-3, config=SMALL, verbose=0,
        )
    monkeypatch.undo()
    metadata = json.loads((out / "backup" / "training_metadata.json").read_text())
    assert metadata["epoch"] == 2
    assert [int(row["epoch"]) for row in read_history(out)] == [0, 1]
    best_before = json.loads((out / "best.json").read_text())

    # A new process: fresh model and datasets, the same run folder.
    keras.utils.set_random_seed(1)
    train_data, validation_data = datasets()
    training.fit(
        lambda: models.build(SMALL), train_data, validation_data, out,
        steps, steps_per_epoch, learning_rate=3e-3, config=SMALL, verbose=0,
    )
    history = read_history(out)
    assert [int(row["epoch"]) for row in history] == [0, 1, 2, 3]
    losses = [float(row["loss"]) for row in history]
    print("loss", losses)
    # Restored weights: the resumed epoch continues from the trained state
    # rather than from a fresh initialization.
    assert losses[2] < losses[0]
    best_after = json.loads((out / "best.json").read_text())
    assert best_after["value"] <= best_before["value"]
    assert not (out / "backup").exists()


# ---------------------------------------------------------------------------
# train_on_dataset


def test_train_on_dataset_uses_only_training_singers(tmp_path, mir1k_root):
    root = tmp_path / "dataset"
    root.mkdir()
    clips = (*TRAIN_CLIPS, "amy_16_01", "abjones_2_03", "tammy_1_01", "Ani_1_01")
    for clip in clips:
        if not (mir1k_root / clip).is_dir():
            pytest.skip(f"{clip} not found in {mir1k_root}")
        (root / clip).symlink_to(mir1k_root / clip, target_is_directory=True)
    out = tmp_path / "run"
    model = training.train_on_dataset(
        root, SMALL, out, steps=6, batch_size=4, steps_per_epoch=3, learning_rate=3e-3, verbose=0
    )
    assert isinstance(model, keras.Model)
    run = json.loads((out / "run.json").read_text())
    train, validation = set(run["train_tracks"]), set(run["validation_tracks"])
    assert train and validation and not train & validation
    assert train | validation == set(clips) - {"tammy_1_01", "Ani_1_01"}
    songs = {name.rsplit("_", 1)[0] for name in train}
    assert not songs & {name.rsplit("_", 1)[0] for name in validation}
    assert models.ModelConfig.from_dict(run["model"]) == SMALL
    assert [int(row["epoch"]) for row in read_history(out)] == [0, 1]
    _, config = models.load_model(out / "last.keras")
    assert config == SMALL
