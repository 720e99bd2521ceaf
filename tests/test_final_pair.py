"""scripts/final_pair.py: resume state kept after each epoch and restored on a new machine."""

import json
import os

import pytest
from script_loader import load_script


def backed_up(run, epoch):
    """A run folder as ``keras-sa train`` leaves it after ``epoch`` epochs."""
    (run / "backup").mkdir(parents=True, exist_ok=True)
    (run / "backup" / "latest.weights.h5").write_bytes(bytes([epoch]) * 64)
    (run / "backup" / "training_metadata.json").write_text(json.dumps({"epoch": epoch - 1}))
    (run / "history.csv").write_text("epoch,loss\n" + "".join(f"{e},0.1\n" for e in range(epoch)))
    (run / "run.json").write_text("{}")
    (run / "last.keras").write_bytes(b"not kept")


def test_the_state_is_kept_after_each_epoch_and_restored(tmp_path):
    script = load_script("final_pair")
    run, saved = tmp_path / "runs" / "sa", tmp_path / "resume" / "sa"
    keep = script.Keeper(run, saved)
    keep()  # nothing backed up yet
    assert not saved.exists()
    backed_up(run, 1)
    keep()
    assert json.loads((saved / "backup" / "training_metadata.json").read_text()) == {"epoch": 0}
    backed_up(run, 2)
    # A coarse file clock could give the rewrite the same stamp.
    os.utime(run / "backup" / "training_metadata.json", ns=(1, 10**18))
    keep()
    assert json.loads((saved / "backup" / "training_metadata.json").read_text()) == {"epoch": 1}
    assert (saved / "history.csv").read_text().count("\n") == 3
    assert not (saved / "last.keras").exists()
    assert sorted(p.name for p in saved.parent.iterdir()) == ["sa"]  # no staging left

    fresh = tmp_path / "elsewhere" / "sa"
    assert script.restore(saved, fresh)
    assert (fresh / "backup" / "latest.weights.h5").read_bytes() == bytes([2]) * 64
    assert not script.restore(saved, fresh)  # a run folder is never replaced

    # Stopped between the keeper's renames: the previous state is still found.
    saved.rename(saved.with_name(".sa.old"))
    other = tmp_path / "third" / "sa"
    assert script.restore(saved, other)
    assert (other / "backup" / "latest.weights.h5").read_bytes() == bytes([2]) * 64


def test_the_pair_keeps_the_recipe_it_was_registered_with(tmp_path, monkeypatch):
    script = load_script("final_pair")
    ran = []
    monkeypatch.setattr(script, "train", lambda jobs, log_dir, poll: ran.append(jobs) or 0.0)
    common = ["pair", "--sa", "sa.json", "--add", "add.json", "--seed", "31",
              "--runs", str(tmp_path / "runs"), "--resume", str(tmp_path / "resume"),
              "--results", str(tmp_path / "results")]
    assert script.main(common + ["--steps", "8000", "--", "--vocal-speed", "0.3"]) == 0
    assert set(ran[0]) == {"sa", "add"}
    assert ran[0]["add"][ran[0]["add"].index("--config") + 1] == "add.json"
    with pytest.raises(SystemExit, match="registers another recipe"):
        script.main(common + ["--steps", "9000", "--", "--vocal-speed", "0.3"])
    with pytest.raises(SystemExit):
        script.main(common + ["--steps", "8000", "--", "--seed", "2"])
