"""Run ``keras-sa train`` as N local workers of a MultiWorkerMirroredStrategy.

Each worker is a separate process running the real training entry point,
``python -m keras_sa.cli train DATA -o OUT --distribute multiworker ...``,
with its own ``TF_CONFIG``. The cluster lives on loopback only: every worker
listens on 127.0.0.1 at a port picked free by binding to port 0. Worker 0 is
the chief and alone writes ``OUT`` (``best.keras``, ``last.keras``,
``best.json``, ``history.csv``, ``logs/``, ``run.json``); the others write to
private temporary folders that they delete.

Usage:

    python scripts/train_multiworker.py DATA -o OUT [--workers 2]
        [--model PRESET | --config CONFIG.json] [--timeout SECONDS]
        [--log-dir DIR] [any other ``keras-sa train`` option ...]

for example:

    python scripts/train_multiworker.py ../shared/data/mir1k -o runs/mw \\
        --model sa_shn_mobile --steps 1000 --batch-size 8 --threads 1

Options that this script does not know (``--steps``, ``--batch-size``,
``--steps-per-epoch``, ``--threads``, ...) are passed to every worker
unchanged; ``--batch-size`` is the global batch, split between the workers,
so make it a multiple of ``--workers``. Each worker's output goes to
``LOG_DIR/worker<i>.log`` (a new temporary folder unless ``--log-dir`` is
given). The workers share one deadline, ``--timeout`` seconds after the
start; if one fails or the deadline passes the others are stopped (a
multi-worker job cannot go on without all of its workers) and the exit
status is 1. Exit status 0 means every worker exited 0.

The ports are free when picked but are released before the workers bind
them, so another program could in principle take one in between; then a
worker fails to start and the run fails clearly.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LOOPBACK = "127.0.0.1"


def free_ports(count):
    """``count`` distinct TCP ports that are free on the loopback address."""
    sockets = []
    try:
        for _ in range(count):  # all held open at once, so the ports differ
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((LOOPBACK, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def tf_configs(ports):
    """One ``TF_CONFIG`` dict per worker of a loopback cluster; worker 0 is the chief."""
    cluster = {"worker": [f"{LOOPBACK}:{port}" for port in ports]}
    return [{"cluster": cluster, "task": {"type": "worker", "index": i}} for i in range(len(ports))]


def worker_command(data, out, train_args):
    """The command line of one worker: the real ``keras-sa train``."""
    return [
        sys.executable, "-m", "keras_sa.cli", "train", str(data), "-o", str(out),
        "--distribute", "multiworker", *train_args,
    ]


def _stop(processes):
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_workers(data, out, train_args=(), workers=2, timeout=600.0, log_dir=None, env=None):
    """Train with ``workers`` local processes; wait for all of them.

    Args:
        data: dataset folder for ``keras-sa train``.
        out: the run folder (written by the chief only).
        train_args: further ``keras-sa train`` arguments, e.g.
            ``["--config", "small.json", "--steps", "6"]``.
        workers: number of worker processes.
        timeout: seconds from the start until every worker must have exited.
        log_dir: folder for ``worker<i>.log``; a new temporary one if ``None``.
        env: extra environment variables for the workers.

    Returns:
        ``(returncodes, log_paths)``: one exit status per worker (``None``
        for a worker stopped at the deadline, negative for one stopped
        because another failed) and the paths of their logs.
    """
    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="keras_sa_multiworker_"))
    log_dir.mkdir(parents=True, exist_ok=True)
    configs = tf_configs(free_ports(workers))
    processes, log_paths, logs = [], [], []
    deadline = time.monotonic() + timeout
    timed_out = False
    try:
        for index, tf_config in enumerate(configs):
            worker_env = dict(os.environ, **(env or {}), TF_CONFIG=json.dumps(tf_config))
            log_paths.append(log_dir / f"worker{index}.log")
            logs.append(open(log_paths[-1], "w"))
            processes.append(
                subprocess.Popen(
                    worker_command(data, out, train_args),
                    env=worker_env,
                    stdout=logs[-1],
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            )
        while any(p.poll() is None for p in processes):
            if any(p.poll() not in (None, 0) for p in processes):
                break  # the others would wait for it forever
            if time.monotonic() > deadline:
                timed_out = True
                break
            time.sleep(0.2)
    finally:
        codes_before_stop = [p.poll() for p in processes]
        _stop(processes)
        for log in logs:
            log.close()
    if timed_out:
        codes = codes_before_stop
    else:
        codes = [p.returncode for p in processes]
    return codes, log_paths


def _tail(path, lines=15):
    text = Path(path).read_text(errors="replace").splitlines()
    return "\n".join("    " + line for line in text[-lines:])


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Run keras-sa train as local MultiWorkerMirroredStrategy workers on 127.0.0.1.",
        epilog="Other options are passed to every worker's keras-sa train.",
    )
    parser.add_argument("data", help="dataset folder")
    parser.add_argument("-o", "--out", required=True, help="run folder (written by the chief)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default: %(default)s)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--model", help="preset name")
    group.add_argument("--config", help="model config JSON")
    parser.add_argument("--timeout", type=float, default=3600.0,
                        help="seconds until every worker must have finished (default: %(default)s)")
    parser.add_argument("--log-dir", help="folder for the workers' logs (default: a new temporary one)")
    args, train_args = parser.parse_known_args(argv)
    # Stopped with SIGTERM (e.g. by `timeout`), unwind so that the workers are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.model:
        train_args = ["--model", args.model, *train_args]
    if args.config:
        train_args = ["--config", args.config, *train_args]

    codes, log_paths = run_workers(
        args.data, args.out, train_args, args.workers, args.timeout, args.log_dir
    )
    failed = False
    for index, (code, log_path) in enumerate(zip(codes, log_paths)):
        role = "chief" if index == 0 else "worker"
        if code == 0:
            print(f"worker {index} ({role}): ok, log {log_path}")
            continue
        failed = True
        if code is None:
            reason = "timed out"
        elif code < 0:
            reason = f"stopped by signal {-code}"
        else:
            reason = f"exit status {code}"
        print(f"worker {index} ({role}): FAILED ({reason}), log {log_path}:\n{_tail(log_path)}",
              file=sys.stderr)
    if failed:
        print("train_multiworker: error: not every worker finished", file=sys.stderr)
        return 1
    print(f"trained: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
