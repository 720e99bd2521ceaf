"""Coverage-guided fuzzing of keras_sa's parsers with atheris (libFuzzer), one harness at a time.

    nice -n 10 .venv/bin/python scripts/fuzz.py --runs 1000000 --workdir fuzz-work      # the long run
    .venv/bin/python scripts/fuzz.py wavstream --seconds 5 --workdir /tmp/fz             # a short one

For each harness (``fuzz/harnesses.py``; all of them by default) it writes
the generated seed corpus (``fuzz/seeds.py``) to ``WORKDIR/<name>/seeds``,
adds the inputs that once crashed it (``fuzz/regressions/<name>``), fuzzes in a child process with ``WORKDIR/<name>/corpus`` as the growing
corpus (kept between runs), and writes what libFuzzer found to
``WORKDIR/<name>/`` (``crash-*``, ``timeout-*``, ``oom-*``), its log to
``log.txt`` and the figures to ``summary.json``: executions, coverage
(libFuzzer's ``cov``: instrumented Python branch edges reached; ``ft``:
features), corpus size, crashes, timeouts, out-of-memory, exec/s, peak RSS.

A crash is what ``fuzz/harnesses.py`` says: an exception other than the
parser's documented ones, an input slower than 1 s (``-timeout=1``), or
allocations beyond the per-input bound (``tracemalloc``); ``-rss_limit_mb``
bounds the process. libFuzzer stops at the first crash and leaves the
input; add it to ``fuzz/regressions/<name>/`` once fixed.

Exit code: 0 when every harness ran its executions without a crash.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FUZZ_DIR = os.path.join(REPO, "fuzz")
RSS_LIMIT_MB = 2048


def _child(name, libfuzzer_args, check_memory):
    """Runs in the child: instrument the harness's modules, then hand over to libFuzzer (never returns)."""
    import tracemalloc

    import atheris

    sys.path.insert(0, FUZZ_DIR)
    import harnesses

    with atheris.instrument_imports(include=harnesses.modules(name)):
        harness = harnesses.get(name)
        harness(b"")  # imports the parser's modules inside the block, so they are instrumented
    if check_memory:
        tracemalloc.start()

    def test_one_input(data):
        harness(data, check_memory=check_memory)

    atheris.Setup([sys.argv[0], *libfuzzer_args], test_one_input)
    atheris.Fuzz()


_STAT = re.compile(r"^stat::(\w+):\s+(\d+)", re.M)
# libFuzzer's own lines (start-up, progress, dictionary, final stats); anything
# else in the log was written by the code under test: chatter a user would see.
_LIBFUZZER_LINE = re.compile(
    r"^(#\d+|INFO:|WARNING: Failed to find function|stat::|Done \d+ runs|MERGE|MS: |Dictionary:|"
    r"###### |\"(?:[^\"\\]|\\.)*\" # Uses|\s*$|.*scripts/fuzz\.py --child )"
)
_PROGRESS = re.compile(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/", re.M)


def summarize(name, log, returncode, seconds, workdir):
    """The run's figures from libFuzzer's log (``-print_final_stats=1``) and the artifacts left."""
    stats = {key: int(value) for key, value in _STAT.findall(log)}
    progress = _PROGRESS.findall(log)
    executions, cov, ft, corpus = (int(v) for v in progress[-1]) if progress else (0, 0, 0, 0)
    artifacts = sorted(os.listdir(workdir))

    def count(prefix):
        return sum(1 for entry in artifacts if entry.startswith(prefix))

    chatter = [line for line in log.splitlines() if not _LIBFUZZER_LINE.match(line)]
    return {
        "harness": name,
        "chatter_lines": len(chatter),
        "first_chatter": chatter[:3],
        "executions": stats.get("number_of_executed_units", executions),
        "coverage_edges": cov,
        "features": ft,
        "corpus_inputs": corpus,
        "crashes": count("crash-") + count("leak-"),
        "timeouts": count("timeout-") + count("slow-unit-"),
        "out_of_memory": count("oom-"),
        "exec_per_second": stats.get("average_exec_per_sec"),
        "peak_rss_mb": stats.get("peak_rss_mb"),
        "seconds": round(seconds, 1),
        "exit_code": returncode,
    }


def run(name, args):
    sys.path.insert(0, FUZZ_DIR)
    import seeds

    workdir = os.path.join(os.path.abspath(args.workdir), name)
    seed_dir, corpus_dir = os.path.join(workdir, "seeds"), os.path.join(workdir, "corpus")
    os.makedirs(corpus_dir, exist_ok=True)
    seeds.write(seed_dir, name)
    regressions = os.path.join(FUZZ_DIR, "regressions", name)
    libfuzzer = [
        corpus_dir, seed_dir, *([regressions] if os.path.isdir(regressions) else []),
        f"-timeout={args.timeout:g}", f"-rss_limit_mb={args.rss_limit_mb}", f"-max_len={args.max_len}",
        f"-artifact_prefix={workdir}/", "-print_final_stats=1", f"-seed={args.seed}",
    ]
    if args.runs:
        libfuzzer.append(f"-runs={args.runs}")
    if args.seconds:
        libfuzzer.append(f"-max_total_time={args.seconds}")
    command = [sys.executable, os.path.abspath(__file__), "--child", name]
    command += ["--no-memory-check"] if args.no_memory_check else []
    start = time.monotonic()
    with open(os.path.join(workdir, "log.txt"), "w") as log_file:
        log_file.write(" ".join(command + ["--", *libfuzzer]) + "\n")
        log_file.flush()
        result = subprocess.run(command + ["--", *libfuzzer], stdout=log_file, stderr=subprocess.STDOUT,
                                cwd=REPO, env=dict(os.environ, PYTHONHASHSEED="0"))
    with open(os.path.join(workdir, "log.txt")) as log_file:
        log = log_file.read()
    summary = summarize(name, log, result.returncode, time.monotonic() - start, workdir)
    summary["command"] = " ".join(["scripts/fuzz.py", *sys.argv[1:]])
    with open(os.path.join(workdir, "summary.json"), "w") as file:
        json.dump(summary, file, indent=2)
    return summary


def resummarize(name, workdir):
    """The figures of a finished run in ``workdir``, read again from its log (its command and time kept)."""
    workdir = os.path.join(os.path.abspath(workdir), name)
    with open(os.path.join(workdir, "log.txt")) as log_file:
        log = log_file.read()
    with open(os.path.join(workdir, "summary.json")) as file:
        before = json.load(file)
    summary = summarize(name, log, before["exit_code"], before["seconds"], workdir)
    summary["command"] = before["command"]
    return summary


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        name, rest = argv[1], argv[2:]
        check_memory = "--no-memory-check" not in rest
        _child(name, rest[rest.index("--") + 1 :], check_memory)
        return 0
    sys.path.insert(0, FUZZ_DIR)
    import harnesses

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", choices=[[], *harnesses.NAMES], metavar="NAME",
                        help=f"harnesses to run (default: all): {', '.join(harnesses.NAMES)}")
    parser.add_argument("--runs", type=int, default=0, help="executions per harness (libFuzzer -runs)")
    parser.add_argument("--seconds", type=int, default=0, help="time per harness (libFuzzer -max_total_time)")
    parser.add_argument("--workdir", default="fuzz-work", help="corpora, artifacts, logs and summaries")
    parser.add_argument("--timeout", type=float, default=1.0, help="seconds an input may take (default: 1)")
    parser.add_argument("--rss-limit-mb", type=int, default=RSS_LIMIT_MB)
    parser.add_argument("--max-len", type=int, default=65536, help="longest input in bytes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-memory-check", action="store_true", help="skip the per-input tracemalloc bound")
    parser.add_argument("--summarize", action="store_true",
                        help="fuzz nothing: print the figures of the runs already in WORKDIR from their logs")
    args = parser.parse_args(argv)
    if args.summarize:
        for name in args.names or harnesses.NAMES:
            print(json.dumps(resummarize(name, args.workdir)), flush=True)
        return 0
    if not args.runs and not args.seconds:
        parser.error("give --runs or --seconds")
    failed = 0
    for name in args.names or harnesses.NAMES:
        summary = run(name, args)
        print(json.dumps(summary), flush=True)
        failed += summary["exit_code"] != 0 or summary["chatter_lines"] > 0 or (
            summary["crashes"] + summary["timeouts"] + summary["out_of_memory"] > 0
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
