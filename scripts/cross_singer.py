"""Score a training recipe on voices it never heard, in both directions.

    python scripts/cross_singer.py vs03 --steps 1250 --seed 11 -- --vocal-speed 0.3
    python scripts/cross_singer.py n2048 --baseline vs03 --steps 1250 --seed 11 -- \\
        --vocal-speed 0.3 --config results/configs/sa_shn_mobile_n2048.json

One recipe (the ``keras-sa train`` options after ``--``) is trained twice
from scratch, side by side, one CPU thread each: on amy's clips, then scored
on every clip of abjones; and on abjones' clips, then scored on every clip of
amy. The MIR-1K test singers are never touched. The step budget and the
candidate (``last.keras``, the model at the last step, never a best-of-epochs
pick) are fixed before training and written to ``<results>/<name>/recipe.json``;
running the same name again with another recipe is refused, and running it
again with the same one resumes the training and scoring where they stopped.
After every epoch the trainings' resume state is copied to
``<resume>/<name>/<singer>/``, so a probe kept with the sources goes on on a
new machine; it is removed once both directions are scored.

With ``--baseline``, both directions are compared clip by clip with that
recipe's scores (``scripts/compare_clips.py``), and the adoption rule is
applied: a change is adopted when it gains at least 0.1 dB vocals GNSDR on the
mean of the two directions and loses no more than 0.1 dB on either.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_clips import compare  # noqa: E402
from side_by_side import Keeper, keras_sa, register, restore, split_recipe, train  # noqa: E402

DIRECTIONS = (("amy", "abjones"), ("abjones", "amy"))
CANDIDATE = "last.keras"
GAIN, LOSS = 0.1, 0.1  # dB vocals: the adoption rule


def train_both(recipe, runs, saved):
    """Train both directions side by side.

    Each resumes from its run folder, or from its state kept in ``saved``,
    where it is copied after every epoch so that a probe can span stops.
    """
    jobs, keepers = {}, []
    for singer, _ in DIRECTIONS:
        if restore(saved / singer, runs / singer):
            print(f"{runs.name}: {singer} resumes from {saved / singer}")
        jobs[singer] = keras_sa(
            "train", recipe["data"], "-o", str(runs / singer), "--singers", singer,
            "--steps", str(recipe["steps"]), "--seed", str(recipe["seed"]),
            "--threads", "1", *recipe["train_args"],
        )
        keepers.append(Keeper(runs / singer, saved / singer))
    return train(jobs, runs, poll=lambda: [keep() for keep in keepers])


def score(recipe, runs, out, listener):
    """``keras-sa evaluate`` the candidate of the run on ``listener``'s voice, once."""
    singer = {other: trained for trained, other in DIRECTIONS}[listener]
    model = runs / singer / CANDIDATE
    folder = out / f"{singer}_to_{listener}"
    done = folder / "done.json"
    if done.exists() and json.loads(done.read_text())["model_mtime"] == model.stat().st_mtime:
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    subprocess.run(
        keras_sa(
            "evaluate", recipe["data"], "--model", str(model), "--singers", listener,
            "-o", str(folder), "--threads", "1",
        ),
        check=True,
    )
    done.write_text(json.dumps({"model_mtime": model.stat().st_mtime}) + "\n")
    return folder


def _one(folder, pattern):
    found = list(Path(folder).glob(pattern))
    if len(found) != 1:
        raise SystemExit(f"cross_singer: expected one {pattern} in {folder}, found {len(found)}")
    return found[0]


def clips_csv(folder):
    return _one(folder, "*_clips.csv")


def summary(folder):
    return json.loads(_one(folder, "*_summary.json").read_text())


def report(name, out, baseline_out):
    """Print both directions' scores, the per-clip comparison and the verdict."""
    deltas = []
    for singer, listener in DIRECTIONS:
        folder = out / f"{singer}_to_{listener}"
        s = summary(folder)
        print(
            f"{name}: {singer} -> {listener} ({s['evaluated']} clips): GNSDR vocals "
            f"{s['vocals_gnsdr']:.2f} dB, accompaniment {s['accompaniment_gnsdr']:.2f} dB"
        )
        if baseline_out is None:
            continue
        base_folder = baseline_out / f"{singer}_to_{listener}"
        base = summary(base_folder)
        deltas.append(
            (s["vocals_gnsdr"] - base["vocals_gnsdr"],
             s["accompaniment_gnsdr"] - base["accompaniment_gnsdr"])
        )
        for line in compare(str(clips_csv(folder)), str(clips_csv(base_folder))):
            print(f"    {line}")
    if not deltas:
        return None
    mean_vocals = sum(d[0] for d in deltas) / len(deltas)
    mean_acc = sum(d[1] for d in deltas) / len(deltas)
    worst = min(d[0] for d in deltas)
    adopt = mean_vocals >= GAIN and worst >= -LOSS
    print(
        f"{name} vs {baseline_out.name}: vocals {deltas[0][0]:+.2f} / {deltas[1][0]:+.2f} dB "
        f"(mean {mean_vocals:+.2f}), accompaniment {deltas[0][1]:+.2f} / {deltas[1][1]:+.2f} dB "
        f"(mean {mean_acc:+.2f}); decision {'ADOPT' if adopt else 'reject'} "
        f"(rule: mean vocals >= +{GAIN} dB, neither direction below -{LOSS} dB)"
    )
    return adopt


def main(argv=None):
    argv, train_args = split_recipe(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="the recipe's name (a folder under --results and --runs)")
    parser.add_argument("--baseline", help="name of an earlier recipe to compare with")
    parser.add_argument("--steps", type=int, default=1250, help="fixed step budget")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--data", default="../shared/data/mir1k", help="MIR-1K stems folder")
    parser.add_argument("--runs", default="runs/cross_singer", help="run folders (not kept)")
    parser.add_argument("--results", default="results/cross_singer", help="scores and recipe")
    parser.add_argument("--resume", default="results/resume/cross_singer",
                        help="kept resume state of unfinished trainings")
    parser.add_argument("--report-only", action="store_true", help="print the scores, train nothing")
    args = parser.parse_args(argv)
    forbidden = {"--singers", "--steps", "--seed", "--threads", "--init", "-o", "--out"}
    clash = forbidden.intersection(a.split("=")[0] for a in train_args)
    if clash:
        parser.error(f"the recipe may not set {', '.join(sorted(clash))}: this script does")

    out = Path(args.results) / args.name
    runs = Path(args.runs) / args.name
    baseline_out = Path(args.results) / args.baseline if args.baseline else None
    if baseline_out is not None and not (baseline_out / "recipe.json").exists():
        parser.error(f"no baseline recipe {baseline_out / 'recipe.json'}")
    recipe = {
        "data": args.data, "steps": args.steps, "seed": args.seed,
        "train_args": train_args, "candidate": CANDIDATE,
        "directions": [f"{a} -> {b}" for a, b in DIRECTIONS],
    }
    if not args.report_only:
        register(out / "recipe.json", recipe)
        runs.mkdir(parents=True, exist_ok=True)
        saved = Path(args.resume) / args.name
        seconds = train_both(recipe, runs, saved)
        print(f"{args.name}: trained both directions in {seconds / 60:.1f} min (side by side)")
        with ThreadPoolExecutor(len(DIRECTIONS)) as pool:  # one thread each, side by side
            list(pool.map(lambda listener: score(recipe, runs, out, listener),
                          [listener for _, listener in DIRECTIONS]))
        for singer, _ in DIRECTIONS:
            history = runs / singer / "history.csv"
            if history.exists():
                shutil.copy(history, out / f"train_{singer}_history.csv")
        shutil.rmtree(saved, ignore_errors=True)  # scored: nothing left to resume
    report(args.name, out, baseline_out)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
