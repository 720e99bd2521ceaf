"""Paired comparison of two models' per-clip scores from ``keras-sa evaluate``.

    python scripts/compare_clips.py results/mir1k/sa_shn_mobile_clips.csv \
        results/mir1k/shn_mobile_clips.csv

For each source: both models' GNSDR (``keras_sa.evaluation.summarize``,
as ``evaluate`` reports it), then the clip-by-clip NSDR difference A - B: its mean, standard
error and 95 % interval, on how many clips A is ahead, and the two-sided
Wilcoxon signed-rank p-value (scipy). Only clips scored ``ok`` in both files
count; a clip in one file only is an error, since the two runs then did not
see the same test set.
"""

import argparse
import csv
import math
import statistics
import sys

SOURCES = ("vocals", "accompaniment")


def _record(row):
    """A CSV row as the record ``evaluate_tracks`` wrote it: numbers, NaN where empty."""
    record = dict(row, length=int(row["length"]))
    for key, value in row.items():
        if key.startswith(tuple(f"{s}_" for s in SOURCES)):
            record[key] = float(value) if value else math.nan
    return record


def read_clips(path):
    """``{name: record}`` of the clips scored ``ok`` in a per-clip CSV, and all names."""
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    if not rows or "vocals_nsdr" not in rows[0]:
        raise ValueError(f"{path}: not a per-clip CSV of keras-sa evaluate")
    ok = {r["name"]: _record(r) for r in rows if r["status"] == "ok"}
    return ok, {r["name"] for r in rows}


def compare(a_path, b_path):
    """Lines of the comparison of the files ``a_path`` and ``b_path``."""
    from scipy.stats import wilcoxon

    from keras_sa.evaluation import summarize

    a, a_names = read_clips(a_path)
    b, b_names = read_clips(b_path)
    if a_names != b_names:
        raise ValueError(
            f"the files score different clips ({len(a_names ^ b_names)} in one file only)"
        )
    names = sorted(a.keys() & b.keys())
    if len(names) < 2:
        raise ValueError("fewer than two clips scored ok in both files")
    summaries = [summarize([clips[n] for n in names]) for clips in (a, b)]
    lines = [f"{len(names)} clips scored in both; A = {a_path}, B = {b_path}"]
    for source in SOURCES:
        differences = [a[n][f"{source}_nsdr"] - b[n][f"{source}_nsdr"] for n in names]
        mean = statistics.fmean(differences)
        error = statistics.stdev(differences) / math.sqrt(len(differences))
        ahead = sum(d > 0 for d in differences)
        p = wilcoxon(differences).pvalue
        lines.append(
            f"{source}: GNSDR A {summaries[0][f'{source}_gnsdr']:.2f} dB, "
            f"B {summaries[1][f'{source}_gnsdr']:.2f} dB; NSDR A - B per clip: "
            f"mean {mean:+.3f} dB (s.e. {error:.3f}, 95 % [{mean - 1.96 * error:+.3f}, "
            f"{mean + 1.96 * error:+.3f}]), A ahead on {ahead} of {len(names)}, "
            f"Wilcoxon p = {p:.2g}"
        )
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", help="per-clip CSV of model A")
    parser.add_argument("b", help="per-clip CSV of model B")
    args = parser.parse_args(argv)
    try:
        print("\n".join(compare(args.a, args.b)))
    except (OSError, ValueError, KeyError) as error:
        print(f"compare_clips: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
