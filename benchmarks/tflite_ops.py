"""TFLite per-operator profile: what each operator costs per window and which kernel runs it.

ai-edge-litert 2.3.0 has no per-operator profiler in Python (the
``Interpreter`` exposes none, and the wheel ships no ``benchmark_model``
binary; LiteRT's C profiler is not wrapped), so this measures with the
interpreter itself:

- *kernel*: the model is loaded by the LiteRT interpreter as an app loads it
  (the default XNNPACK delegate) with delegate node fusion disabled, so that
  each operator XNNPACK takes becomes its own ``DELEGATE`` node; an operator
  whose outputs a ``DELEGATE`` node produces runs in XNNPACK, the others in
  TFLite's built-in kernels (``keras_sa.export.tflite.xnnpack_operators``).
  An operator that XNNPACK takes in the model but cannot run alone (the
  float16 model's DEQUANTIZE of constant weights, which XNNPACK folds into
  the operators that use them) is timed with its built-in kernel;
- *time*: every operator is cut out as a one-operator model (its own
  weights and quantization, the rest of the model dropped) and invoked on
  the tensors it sees in the full model on a real window of the 133 s song
  (a run that preserves all tensors); the median of ``--repeats`` timings of
  ``--calls`` invokes each (one for the slow reference kernels), for three
  kernel choices: as the app runs it
  (XNNPACK where it takes the operator), the built-in kernels without
  XNNPACK, and the built-in *reference* kernels (``BUILTIN_REF``): a
  built-in time equal to the reference time means the built-in kernel of
  that operator is the reference one;
- *whole model*: one window through the full model with and without XNNPACK
  (median of the same count) beside the sum of its operators' times, which
  says how well the one-operator times add up (the cut-out times include a
  few microseconds of interpreter call per operator, and lose the
  cache reuse between neighbouring operators).

Models: the five conversions in tflite/models (``--models`` for others).
Prints, for each model and thread count, one row per operator type: count,
how many XNNPACK takes, the total time per window as the app runs it, and
the totals with built-in and reference kernels; then the whole-model
latencies. ``--json FILE`` also writes every operator's figures.

Run:
    .venv/bin/python benchmarks/tflite_ops.py [--threads 1 2] [--models tflite/models/*.tflite] [--json ops.json]
"""

import argparse
import collections
import glob
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SONG = ROOT.parent / "shared" / "data" / "songs" / "Karissa_Hobbs_-_Lets_Go_Fishin.ogg"
MODELS = ROOT / "tflite" / "models"


def _litert():
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    return Interpreter, OpResolverType


def window_features(path):
    """One real window of the song, as the model's input tensor (quantized for an int8 input)."""
    from keras_sa.audio import load_audio
    from keras_sa.audio.signal import stft
    from keras_sa.predictors import TFLitePredictor, _quantize

    predictor = TFLitePredictor(path)
    signal = predictor.config.signal
    from keras_sa.separation import Separator

    separator = Separator(predictor)
    samples, _ = load_audio(SONG, sample_rate=signal.sample_rate, mono=True)
    windows = separator.windows(np.abs(stft(samples[0], signal)[:, : signal.n_bins]))
    window = windows[len(windows) // 2]
    return _quantize(window[np.newaxis], predictor._input)[..., np.newaxis]


def all_tensors(path, features):
    """Every tensor's value in one run of the full model on ``features`` (reference kernels' values)."""
    Interpreter, OpResolverType = _litert()
    interpreter = Interpreter(
        model_path=str(path),
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        experimental_preserve_all_tensors=True,
    )
    interpreter.allocate_tensors()
    (detail,) = interpreter.get_input_details()
    interpreter.set_tensor(detail["index"], features)
    interpreter.invoke()
    values = {}
    for tensor in interpreter.get_tensor_details():
        try:
            values[tensor["index"]] = interpreter.get_tensor(tensor["index"])
        except ValueError:  # tensors without data (optional inputs)
            pass
    return values


def one_op_models(flatbuffer):
    """Each operator as a model of its own: ``[(op index, op name, input tensor indices, bytes)]``."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(flatbuffer, 0))
    (subgraph,) = model.subgraphs
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    constant = {
        index
        for index, tensor in enumerate(subgraph.tensors)
        if model.buffers[tensor.buffer].data is not None and len(model.buffers[tensor.buffer].data)
    }
    operators, codes = subgraph.operators, model.operatorCodes
    model.signatureDefs = []
    cut = []
    for index, op in enumerate(operators):
        code, opcode = codes[op.opcodeIndex], op.opcodeIndex
        name = names[max(code.builtinCode, code.deprecatedBuiltinCode)]
        inputs = [int(t) for t in op.inputs if t >= 0 and int(t) not in constant]
        # Only the operator's own code: a resolver refuses a model with any opcode it lacks.
        model.operatorCodes, op.opcodeIndex = [code], 0
        subgraph.operators, subgraph.inputs, subgraph.outputs = [op], inputs, [int(t) for t in op.outputs]
        builder = flatbuffers.Builder(len(flatbuffer) + 1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        cut.append((index, name, inputs, bytes(builder.Output())))
        op.opcodeIndex = opcode
    subgraph.operators, model.operatorCodes = operators, codes
    return cut


def median_call(interpreter, calls, repeats):
    """Median over ``repeats`` of the mean time of ``calls`` invokes, in ms."""
    interpreter.invoke()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            interpreter.invoke()
        times.append((time.perf_counter() - start) / calls)
    return 1000 * statistics.median(times)


def time_op(content, inputs, values, resolver, threads, calls, repeats):
    """One operator's median time in ms, or ``None`` where it cannot run alone with that resolver."""
    Interpreter, _ = _litert()
    try:
        interpreter = Interpreter(model_content=content, experimental_op_resolver_type=resolver, num_threads=threads)
        interpreter.allocate_tensors()
        for detail, index in zip(interpreter.get_input_details(), inputs):
            interpreter.set_tensor(detail["index"], values[index])
        return median_call(interpreter, calls, repeats)
    except (ValueError, RuntimeError):  # BUILTIN_REF lacks int8 TILE; XNNPACK alone on constant inputs
        return None


def profile(path, threads, calls, repeats):
    """Every operator's kernel and times, and the whole model's latencies, for one model."""
    Interpreter, OpResolverType = _litert()
    flatbuffer = Path(path).read_bytes()
    features = window_features(path)
    values = all_tensors(path, features)
    from keras_sa.export.tflite import xnnpack_operators

    delegated = xnnpack_operators(flatbuffer, threads)
    ops = []
    for index, name, inputs, content in one_op_models(flatbuffer):
        builtin = time_op(content, inputs, values, OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES, threads, calls, repeats)
        app = time_op(content, inputs, values, OpResolverType.AUTO, threads, calls, repeats) if index in delegated else None
        ops.append({
            "index": index,
            "op": name,
            "kernel": "xnnpack" if index in delegated else "builtin",
            "dtypes": sorted({str(values[i].dtype) for i in inputs} or {"constant"}),
            "app_ms": builtin if app is None else app,
            "builtin_ms": builtin,
            # Reference kernels are slow (a CONV_2D up to 100x): one call per timing is enough.
            "reference_ms": time_op(content, inputs, values, OpResolverType.BUILTIN_REF, threads, 1, repeats),
        })
    whole = {}
    for label, resolver in (("xnnpack", OpResolverType.AUTO), ("builtin", OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)):
        interpreter = Interpreter(model_path=str(path), experimental_op_resolver_type=resolver, num_threads=threads)
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], features)
        whole[label] = median_call(interpreter, calls, repeats)
    return {"model": Path(path).name, "threads": threads, "ops": ops, "whole_ms": whole}


def table(result):
    """The per-operator-type rows of one profile."""
    groups = collections.defaultdict(list)
    for op in result["ops"]:
        groups[op["op"]].append(op)
    rows = []
    for name, ops in sorted(groups.items(), key=lambda item: -sum(op["app_ms"] for op in item[1])):
        rows.append({
            "op": name,
            "count": len(ops),
            "xnnpack": sum(op["kernel"] == "xnnpack" for op in ops),
            "dtypes": sorted({d for op in ops for d in op["dtypes"]}),
            "app_ms": sum(op["app_ms"] for op in ops),
            "builtin_ms": sum(op["builtin_ms"] for op in ops),
            "reference_ms": _sum(op["reference_ms"] for op in ops),
        })
    return rows


def _sum(times):
    """A sum of times that is ``None`` if any is (an operator without that kernel)."""
    times = list(times)
    return None if None in times else sum(times)


def _ms(value, width):
    return f"{'none':>{width}}" if value is None else f"{value:>{width}.3f}"


def kernel_label(row):
    if row["xnnpack"] == row["count"]:
        return "XNNPACK"
    if row["xnnpack"] == 0:
        return "built-in"
    return f"XNNPACK {row['xnnpack']}, built-in {row['count'] - row['xnnpack']}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=None, help="default: the conversions in tflite/models")
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    parser.add_argument("--calls", type=int, default=20, help="invokes per timing")
    parser.add_argument("--repeats", type=int, default=5, help="timings per figure (the median is kept)")
    parser.add_argument("--json", help="also write every operator's figures here")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from keras_sa.export.tflite import QUANTIZATIONS

    # A conversion that failed its gate is not committed.
    models = args.models or [str(path) for q in QUANTIZATIONS if (path := MODELS / f"sa_shn_mobile_{q}.tflite").is_file()]
    models = [m for pattern in models for m in sorted(glob.glob(pattern)) or [pattern]]
    results = []
    for threads in args.threads:
        for path in models:
            result = profile(path, threads, args.calls, args.repeats)
            results.append(result)
            print(f"\n{result['model']}, {threads} thread(s): ms per window (median of {args.repeats} x {args.calls} calls)")
            print(f"{'operator':<20}{'count':>6}  {'kernel':<26}{'as run':>9}{'built-in':>10}{'reference':>11}  dtypes")
            rows = table(result)
            for row in rows:
                print(f"{row['op']:<20}{row['count']:>6}  {kernel_label(row):<26}{row['app_ms']:>9.3f}"
                      f"{row['builtin_ms']:>10.3f}{_ms(row['reference_ms'], 11)}  {', '.join(row['dtypes'])}")
            total = {k: _sum(row[k] for row in rows) for k in ("app_ms", "builtin_ms", "reference_ms")}
            print(f"{'sum of operators':<52}{total['app_ms']:>9.3f}{total['builtin_ms']:>10.3f}{_ms(total['reference_ms'], 11)}")
            print(f"{'whole model':<52}{result['whole_ms']['xnnpack']:>9.3f}{result['whole_ms']['builtin']:>10.3f}",
                  flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
