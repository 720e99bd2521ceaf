"""Train the final pair, the SA model and its ``add`` twin, across several stops.

    python scripts/final_pair.py n2048 --sa results/configs/sa_shn_mobile_n2048.json \\
        --add results/configs/shn_mobile_n2048.json --steps 8000 --seed 31 -- \\
        --vocal-speed 0.3 --precision float32

Both models are trained from scratch on both training singers, side by side,
one CPU thread each, for a step count and seed fixed before the run and written
to ``<results>/<name>/recipe.json`` (running the name again with another recipe
is refused). The candidate of each is its ``last.keras``, the model at the last
step. After every epoch the runs' resume state (``backup/``, the history and
``run.json``) is copied to ``<resume>/<name>/{sa,add}/``, which is kept with the
sources; run the same command again on a new machine and each run restores
from there and goes on where it stopped, with the same learning-rate schedule
and data order. When both have finished, their candidates are in
``<runs>/<name>/{sa,add}/last.keras``.
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from side_by_side import Keeper, keras_sa, register, restore, split_recipe, train  # noqa: E402

CANDIDATE = "last.keras"


def main(argv=None):
    argv, train_args = split_recipe(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="the pair's name (a folder under --results, --resume and --runs)")
    parser.add_argument("--sa", required=True, help="config JSON of the SA model")
    parser.add_argument("--add", required=True, help="config JSON of its add twin")
    parser.add_argument("--steps", type=int, required=True, help="fixed step budget")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--data", default="../shared/data/mir1k", help="MIR-1K stems folder")
    parser.add_argument("--runs", default="runs/final_pair", help="run folders (not kept)")
    parser.add_argument("--resume", default="results/resume", help="kept resume state")
    parser.add_argument("--results", default="results/final_pair", help="the registered recipe")
    args = parser.parse_args(argv)
    forbidden = {"--singers", "--steps", "--seed", "--threads", "--init", "--config", "--model",
                 "-o", "--out"}
    clash = forbidden.intersection(a.split("=")[0] for a in train_args)
    if clash:
        parser.error(f"the recipe may not set {', '.join(sorted(clash))}: this script does")

    recipe = {
        "data": args.data, "steps": args.steps, "seed": args.seed,
        "configs": {"sa": args.sa, "add": args.add}, "train_args": train_args,
        "candidate": CANDIDATE, "singers": "the MIR-1K training singers (abjones, amy)",
    }
    register(Path(args.results) / args.name / "recipe.json", recipe)
    runs, saved = Path(args.runs) / args.name, Path(args.resume) / args.name
    runs.mkdir(parents=True, exist_ok=True)
    jobs, keepers = {}, []
    for label, config in recipe["configs"].items():
        if restore(saved / label, runs / label):
            print(f"{args.name}: {label} resumes from {saved / label}")
        jobs[label] = keras_sa(
            "train", args.data, "-o", str(runs / label), "--config", config,
            "--steps", str(args.steps), "--seed", str(args.seed), "--threads", "1", *train_args,
        )
        keepers.append(Keeper(runs / label, saved / label))
    seconds = train(jobs, runs, poll=lambda: [keep() for keep in keepers])
    print(f"{args.name}: this stop trained for {seconds / 60:.1f} min; the candidates:")
    for label in jobs:
        print(f"  {label}: {runs / label / CANDIDATE}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
