"""Multi-worker training: ``keras-sa train --distribute multiworker`` on loopback.

The last two tests are SLOW (about a minute each, more on a busy 2-core
machine): one starts two worker processes, each a real ``keras-sa train``
under MultiWorkerMirroredStrategy, that talk over 127.0.0.1 only; the other
trains under MirroredStrategy on two logical CPU devices, standing in for
two GPUs. The other tests here are quick.
"""

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from keras_sa import cli, data, models
from keras_sa.audio import load_audio, model_input, stft
from keras_sa.data import pipeline

from configs import SMALL_TWO_STACKS
from script_loader import load_script

# MIR-1K training singers only, from four songs (one is held out for validation).
CLIPS = ("abjones_1_01", "abjones_1_02", "abjones_2_01", "amy_1_01", "amy_1_02", "amy_2_01")
RUN_FILES = {"run.json", "best.keras", "last.keras", "best.json", "history.csv", "logs", "backup"}



def test_cluster_is_on_loopback_with_distinct_free_ports():
    script = load_script("train_multiworker")
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
    script = load_script("train_multiworker")
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


MIRRORED_CHILD = """
import json, sys
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
tf.config.threading.set_intra_op_parallelism_threads(1)
from keras_sa import models, training
config = models.ModelConfig.from_json(open(sys.argv[3]).read())
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
model = training.train_on_dataset(
    sys.argv[1], config, sys.argv[2], steps=4, batch_size=8, steps_per_epoch=2,
    strategy=strategy, verbose=0,
)
def copies(variable):
    return [np.asarray(copy) for copy in variable.value.values]
def spread(variables):
    return max(float(np.max(np.abs(a - b))) for v in variables for a, b in [copies(v)])
statistics = {v.path: copies(v)[0].tolist() for v in model.non_trainable_variables}
print(json.dumps({
    "replicas": strategy.num_replicas_in_sync,
    "trainable_spread": spread(model.trainable_variables),
    "statistics_spread": spread(model.non_trainable_variables),
    "statistics": statistics,
}))
"""


# SLOW: traces the steps for two replicas (about a minute on 2 CPU cores).
def test_mirrored_replicas_end_with_the_same_batchnorm_statistics(stem_dataset, tmp_path):
    """Under MirroredStrategy (several GPUs) every replica's BatchNorm statistics agree.

    Keras 3 keeps one unsynchronized copy of each moving mean and variance per
    replica, each updated from that replica's half of the batch; without the
    averaging in ``training.fit`` the copies differ by about 1e-3 after four
    steps and the checkpoint keeps the first replica's alone.
    """
    config = SMALL_TWO_STACKS.replace(name="tiny", depth=1, channels=(4, 8))
    config_path = tmp_path / "tiny.json"
    config_path.write_text(config.to_json())
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_CHILD, str(stem_dataset), str(out), str(config_path)],
        capture_output=True, text=True, timeout=400,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    assert report["trainable_spread"] == 0.0
    assert report["statistics_spread"] == 0.0
    # The statistics did move (so agreeing is not trivial), and the checkpoint holds them.
    saved, _ = models.load_model(out / "last.keras")
    for variable in saved.non_trainable_variables:
        value = np.asarray(variable)
        np.testing.assert_allclose(value, report["statistics"][variable.path], rtol=1e-6, atol=1e-7)
    means = [np.asarray(v) for v in saved.non_trainable_variables if v.path.endswith("moving_mean")]
    assert means and max(float(np.max(np.abs(m))) for m in means) > 1e-3
