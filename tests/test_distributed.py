"""Multi-worker training: ``keras-sa train --distribute multiworker`` on loopback.

The last test is SLOW (about a minute, up to 150 s on a busy 2-core
machine): it starts two worker processes, each a real ``keras-sa train``
under MultiWorkerMirroredStrategy, that talk over 127.0.0.1 only. The other
tests here are quick.
"""

import csv
import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest

from keras_sa import cli, data, models
from keras_sa.audio import load_audio, model_input, stft
from keras_sa.data import pipeline

from configs import SMALL_TWO_STACKS

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train_multiworker.py"

# MIR-1K training singers only, from four songs (one is held out for validation).
CLIPS = ("abjones_1_01", "abjones_1_02", "abjones_2_01", "amy_1_01", "amy_1_02", "amy_2_01")
RUN_FILES = {"run.json", "best.keras", "last.keras", "best.json", "history.csv", "logs", "backup"}


def load_script():
    spec = importlib.util.spec_from_file_location("train_multiworker", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cluster_is_on_loopback_with_distinct_free_ports():
    script = load_script()
    configs = script.tf_configs(script.free_ports(3))
    addresses = configs[0]["cluster"]["worker"]
    assert len(set(addresses)) == 3
    assert all(a.startswith("127.0.0.1:") for a in addresses)
    assert [c["task"] for c in configs] == [{"type": "worker", "index": i} for i in range(3)]
    assert all(c["cluster"] == configs[0]["cluster"] for c in configs)


@pytest.mark.parametrize(
    "tf_config, message",
    [
        (None, "needs TF_CONFIG"),
        ("{not json", "malformed TF_CONFIG"),
        ('{"cluster": {"worker": ["127.0.0.1:1"]}}', "no 'task' key"),
        ('{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 1}}', "task index 1"),
    ],
    ids=["missing", "not-json", "no-task", "bad-index"],
)
def test_multiworker_train_needs_a_valid_tf_config(tf_config, message, monkeypatch, capsys, tmp_path):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    code = cli.main(["train", str(tmp_path), "-o", str(tmp_path / "run"), "--distribute", "multiworker"])
    error = capsys.readouterr().err.strip()
    assert code == 1
    assert message in error and error.startswith("keras-sa: error:") and "\n" not in error
    assert not (tmp_path / "run").exists()


def test_pipelines_are_sharded_by_data():
    """Counter-based and in-memory datasets have no files: workers split them by element."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    sources = [data.Sources(f"t{i}", *rng.standard_normal((2, 4000)).astype("float32")) for i in range(2)]
    datasets = [
        pipeline.training_dataset(sources, SMALL_TWO_STACKS.signal, batch_size=4),
        pipeline.validation_dataset(sources, SMALL_TWO_STACKS.signal, batch_size=4, drop_remainder=True),
    ]
    for dataset in datasets:
        policy = dataset.options().experimental_distribute.auto_shard_policy
        assert policy == tf.data.experimental.AutoShardPolicy.DATA
    # drop_remainder leaves only full batches (a replica must never get an empty one).
    sizes = [int(batch[1].shape[0]) for batch in datasets[1]]
    assert sizes and set(sizes) == {4}


@pytest.fixture
def stem_dataset(mir1k_root, tmp_path):
    """A stem-folder dataset of symlinks to six real MIR-1K training clips."""
    missing = [clip for clip in CLIPS if not (mir1k_root / clip).is_dir()]
    if missing:
        pytest.skip(f"MIR-1K clips not found in {mir1k_root}: {missing}")
    root = tmp_path / "data"
    root.mkdir()
    for clip in CLIPS:
        (root / clip).symlink_to(mir1k_root / clip, target_is_directory=True)
    return root


def val_losses(log_path):
    return re.findall(r"val_final_l1: ([0-9.]+)", Path(log_path).read_text())


# SLOW: two TensorFlow worker processes (about a minute on 2 CPU cores).
def test_two_workers_train_on_loopback(stem_dataset, mir1k_root, tmp_path):
    script = load_script()
    config_path = tmp_path / "small.json"
    config_path.write_text(SMALL_TWO_STACKS.to_json())
    out = tmp_path / "run"
    worker_tmp = tmp_path / "worker_tmp"  # where the non-chief puts its private folder
    worker_tmp.mkdir()
    args = [
        "--config", str(config_path), "--steps", "6", "--steps-per-epoch", "3",
        "--batch-size", "4", "--threads", "1",
    ]
    codes, logs = script.run_workers(
        stem_dataset, out, args, workers=2, timeout=150, log_dir=tmp_path / "logs",
        env={"TMPDIR": str(worker_tmp)},
    )
    tails = "\n".join(f"--- {p.name}:\n" + "\n".join(p.read_text().splitlines()[-20:]) for p in logs)
    assert codes == [0, 0], f"worker exit codes {codes}\n{tails}"

    # Only the chief wrote the run folder, once: one history row per epoch,
    # one TensorBoard file per split; the backup stays, so a rerun resumes.
    assert {p.name for p in out.iterdir()} == RUN_FILES
    with open(out / "history.csv", newline="") as file:
        assert [row["epoch"] for row in csv.DictReader(file)] == ["0", "1"]
    for split in ("train", "validation"):
        assert len(list((out / "logs" / split).glob("events.out.tfevents.*"))) == 1
    assert json.loads((out / "run.json").read_text())["model"] == SMALL_TWO_STACKS.to_dict()
    # The non-chief's private folder was deleted.
    assert not list(worker_tmp.glob("keras_sa_*"))
    # Epoch logs are global: both workers saw the same validation results.
    assert len(val_losses(logs[0])) == 2 and val_losses(logs[0]) == val_losses(logs[1])

    model, config = models.load_model(out / "best.keras")
    assert config == SMALL_TWO_STACKS
    signal = SMALL_TWO_STACKS.signal
    vocals, _ = load_audio(mir1k_root / CLIPS[0] / "vocals.opus", sample_rate=signal.sample_rate)
    accompaniment, _ = load_audio(mir1k_root / CLIPS[0] / "accompaniment.opus", sample_rate=signal.sample_rate)
    mixture = (vocals[0] + accompaniment[0]) / 2
    spectrum = stft(mixture, signal)[: signal.patch_frames, : signal.n_bins]
    features, _ = model_input(np.abs(spectrum), signal)
    masks = model.predict(features[np.newaxis, ..., np.newaxis].astype("float32"), verbose=0)
    for stack in masks:
        assert stack.shape == (1, signal.patch_frames, signal.n_bins, 2)
        assert np.all(np.isfinite(stack)) and np.all((stack >= 0) & (stack <= 1))
