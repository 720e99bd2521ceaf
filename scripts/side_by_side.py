"""Trainings fixed before they run, run side by side: what the cross-singer probes and the final pair share."""

import json
import shutil
import subprocess
import sys
import time


def keras_sa(*args):
    """The command line of ``keras-sa`` in this interpreter's environment."""
    return [sys.executable, "-m", "keras_sa.cli", *args]


def split_recipe(argv):
    """``(script options, keras-sa train options)``: the latter are those after ``--``."""
    argv = list(argv)
    if "--" not in argv:
        return argv, []
    index = argv.index("--")
    return argv[:index], argv[index + 1:]


def register(path, recipe):
    """Write the recipe before any training, or check it against the registered one."""
    if path.exists():
        registered = json.loads(path.read_text())
        if registered != recipe:
            raise SystemExit(
                f"{path.parent.name}: {path} registers another recipe under this name:\n"
                f"  registered: {registered}\n  given:      {recipe}"
            )
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(recipe, indent=2) + "\n")


def train(jobs, log_dir, poll=None, every=30.0):
    """Run ``{label: command}`` side by side, each logging to ``log_dir/train_<label>.log``.

    ``poll()``, when given, is called every ``every`` seconds while they run
    and once after. Returns the wall time in seconds; raises SystemExit naming
    the jobs that failed.
    """
    processes = {}
    for label, command in jobs.items():
        log = open(log_dir / f"train_{label}.log", "a")
        log.write(f"$ {' '.join(command)}\n")
        log.flush()
        processes[label] = (subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT), log)
        (log_dir / f"train_{label}.pid").write_text(f"{processes[label][0].pid}\n")
    start = time.monotonic()
    while any(process.poll() is None for process, _ in processes.values()):
        if poll is not None:
            poll()
        time.sleep(every if poll is not None else 1.0)
    if poll is not None:
        poll()
    failed = [label for label, (process, log) in processes.items() if process.returncode]
    for _, log in processes.values():
        log.close()
    if failed:
        raise SystemExit(f"training {', '.join(failed)} failed; see {log_dir}")
    return time.monotonic() - start


# What a run folder needs to resume: BackupAndRestore's folder and the run's records.
RESUME_STATE = ("backup", "history.csv", "run.json", "best.json")


def restore(saved, run):
    """Seed a missing run folder from the kept resume state; return whether it did."""
    if not saved.exists():  # a stop between the keeper's two renames leaves only the last copy
        saved = saved.with_name(f".{saved.name}.old")
    if run.exists() or not saved.exists():
        return False
    shutil.copytree(saved, run)
    return True


class Keeper:
    """Copies a run's resume state to the kept folder each time a new epoch is backed up."""

    def __init__(self, run, saved):
        self.run, self.saved, self.seen = run, saved, None

    def __call__(self):
        marker = self.run / "backup" / "training_metadata.json"
        if not marker.exists():
            return
        stamp = marker.stat().st_mtime_ns
        if stamp == self.seen:
            return
        staging = self.saved.with_name(f".{self.saved.name}.new")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for name in RESUME_STATE:
            source = self.run / name
            if source.is_dir():
                shutil.copytree(source, staging / name)
            elif source.exists():
                shutil.copy2(source, staging / name)
        if marker.stat().st_mtime_ns != stamp:  # written again while copying: next time
            shutil.rmtree(staging)
            return
        old = self.saved.with_name(f".{self.saved.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if self.saved.exists():
            self.saved.rename(old)
        staging.rename(self.saved)
        shutil.rmtree(old, ignore_errors=True)
        self.seen = stamp
