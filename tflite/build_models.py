"""Regenerate the committed TFLite models and their verification report.

    python tflite/build_models.py --data ../shared/data/mir1k

Converts a bundled model (default: the package's default) to all five
quantizations of ``keras_sa.export.tflite.QUANTIZATIONS``, verifies each
against the float Keras model on a fixed subset of MIR-1K test clips (every
33rd: 25 clips), and writes, for those that pass,
``tflite/models/<model>_<quantization>.tflite`` with its contract ``.json``,
plus ``REPORT.md`` and ``report.json`` (sizes, every operator with its
tensors' dtypes and whether XNNPACK runs it, mask errors, GNSDR
differences). The int8_float_attention and dynamic-range models are also
copied into the package (``keras_sa/pretrained/``): the default, and the one
with int8 input and output for integer pipelines (the full-integer int8
model is committed here only when it passes). int8 and int8_float_attention
are calibrated on windows of the MIR-1K training singers' clips only. Exits 1
if any model fails.
"""

import argparse
import collections
import json
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
#: The conversions bundled in keras_sa/pretrained/, byte for byte these files.
PACKAGED = ("int8_float_attention", "dynamic")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="MIR-1K folder (stems or Wavfile layout)")
    parser.add_argument("--model", default="default", help="bundled model name or .keras file")
    parser.add_argument("--out", default=str(HERE / "models"), help="output folder (default: tflite/models)")
    parser.add_argument("--every", type=int, default=33, help="verify on every N-th test clip")
    parser.add_argument("--calibration-windows", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-package-copy", action="store_true", help="do not update keras_sa/pretrained")
    args = parser.parse_args(argv)

    from keras_sa import data, pretrained
    from keras_sa.export import tflite, verify
    from keras_sa.models import load_model
    from keras_sa.predictors import KerasPredictor
    from keras_sa.separation import Separator

    model_path = pretrained.resolve(args.model)
    model, config = load_model(model_path)
    train, test = data.train_test_split(args.data)
    print(f"{config.name}: {len(train)} training clips calibrate int8, {len(test)} test clips")
    sources = data.load_sources(train, config.signal.sample_rate)
    calibration = tflite.calibration_windows(sources, config.signal, count=args.calibration_windows)
    clips = verify.verification_clips(test, config.signal.sample_rate, every=args.every)
    reference = verify.Reference(Separator(KerasPredictor(model, config)), clips)
    print(
        f"float model on {len(clips)} clips: GNSDR vocals {reference.summary['vocals_gnsdr']:.3f} dB, "
        f"accompaniment {reference.summary['accompaniment_gnsdr']:.3f} dB"
    )

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    reports = {}
    for quantization in tflite.QUANTIZATIONS:
        path = out / f"{config.name}_{quantization}.tflite"
        started = time.perf_counter()
        report = tflite.export(model, config, quantization, path, calibration, reference,
                               threads=args.threads, overwrite=True)
        report["file"] = path.name
        report["seconds"] = round(time.perf_counter() - started, 1)
        reports[quantization] = report
        print(verify.describe(report))

    summary = {
        "model": config.name,
        "source_model": Path(model_path).name,
        "command": "python tflite/build_models.py --data " + args.data
        + (f" --model {args.model}" if args.model != "default" else ""),
        "verification_clips": [clip.name for clip in clips],
        "calibration": f"{args.calibration_windows} windows of {len(train)} training clips",
        "float_gnsdr": {k: reference.summary[f"{k}_gnsdr"] for k in config.signal.sources},
        "models": reports,
    }
    (out / "report.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "REPORT.md").write_text(markdown(summary))
    if not args.no_package_copy and config.name in pretrained.MODELS:
        for quantization in PACKAGED:
            if reports[quantization]["passed"]:
                built = out / f"{config.name}_{quantization}.tflite"
                for source in (built, built.with_suffix(".json")):
                    shutil.copyfile(source, pretrained.HERE / source.name)
    failed = [q for q, r in reports.items() if not r["passed"]]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def markdown(summary):
    """The human-readable verification report."""
    from keras_sa.export.tflite import FLOAT_OPERATORS

    models = summary["models"]
    lines = [
        f"# TFLite models of `{summary['model']}`: verification report",
        "",
        f"Regenerate with `{summary['command']}` (from the repository root).",
        "",
        f"Each model was run by the LiteRT interpreter (ai-edge-litert) and compared with the float "
        f"Keras model `{summary['source_model']}` on the same {len(summary['verification_clips'])} MIR-1K "
        "test clips (every 33rd test clip; listed in `report.json`). int8 and int8_float_attention were "
        "calibrated on "
        f"{summary['calibration']} (the training singers abjones and amy only). Mask errors are over "
        "every window's full output; GNSDR is the MIR-1K protocol (mir_eval, length-weighted), the "
        "separation going through the same Separator code for every model.",
        "",
        "The int8_float_attention model is int8 except the operators XNNPACK has no int8 kernel for "
        f"({', '.join(FLOAT_OPERATORS)}: the skip attention's products, softmax and part of its "
        "normalization), which compute in float32; its input and output are int8.",
        "",
        f"Float Keras model on these clips: GNSDR vocals {summary['float_gnsdr']['vocals']:.3f} dB, "
        f"accompaniment {summary['float_gnsdr']['accompaniment']:.3f} dB.",
        "",
        "| model | size | mask max abs error | mask SNR | GNSDR vocals (delta) | GNSDR accompaniment (delta) "
        "| tolerance | result |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for quantization, r in models.items():
        lines.append(
            f"| `{r['file']}` | {r['size_bytes'] / 1e6:.2f} MB | {r['mask_max_abs_error']:.4f} "
            f"| {r['mask_snr_db']:.1f} dB | {r['vocals_gnsdr']:.3f} dB ({r['vocals_gnsdr_delta']:+.3f}) "
            f"| {r['accompaniment_gnsdr']:.3f} dB ({r['accompaniment_gnsdr_delta']:+.3f}) "
            f"| {r['gnsdr_tolerance_db']:g} dB GNSDR, mask SNR >= {r['mask_snr_floor_db']:g} dB "
            f"| {'passed' if r['passed'] else 'FAILED: ' + '; '.join(r['failures']) + ' (not written)'} |"
        )
    lines += ["", "## Operators", ""]
    lines.append("Built-in TFLite operators only; counts, the dtypes of their input and output "
                 "tensors (weights included), and how many of them LiteRT's default XNNPACK delegate "
                 "runs (the others run in TFLite's built-in kernels; "
                 "`keras_sa.export.tflite.xnnpack_operators`). Per-operator lists are in `report.json`; "
                 "per-operator times in `tflite/PROFILE.md`.")
    for quantization, r in models.items():
        lines += ["", f"### {quantization}", ""]
        if "float_islands" in r:
            islands = collections.Counter(r["float_islands"])
            lines.append(
                "Float operators: " + (", ".join(f"{name} ({n})" for name, n in sorted(islands.items()))
                if islands else "none: every tensor is int8 (activations, weights) or int32 (biases, "
                "shapes, axes)") + "; input and output are int8."
            )
            lines.append("")
        counts = collections.Counter()
        xnnpack = collections.Counter()
        dtypes = collections.defaultdict(set)
        for op in r["operators"]:
            counts[op["op"]] += 1
            xnnpack[op["op"]] += op.get("kernel") == "xnnpack"
            dtypes[op["op"]].update(op["inputs"] + op["outputs"])
        lines += ["| operator | count | XNNPACK | tensor dtypes |", "|---|---|---|---|"]
        for name in sorted(counts):
            lines.append(f"| {name} | {counts[name]} | {xnnpack[name]} | {', '.join(sorted(dtypes[name]))} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
