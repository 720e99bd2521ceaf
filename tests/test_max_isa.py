"""benchmarks/max_isa: LiteRT kept off AVX-512 for `benchmarks/peers.sh --max-isa avx2`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: The default model, and the float32 conversion of the same network.
MODELS = {"dynamic": REPO / "keras_sa" / "pretrained" / "sa_shn_mobile_dynamic.tflite",
          "float32": REPO / "tflite" / "models" / "sa_shn_mobile_float32.tflite"}
HAS_AVX512 = "avx512f" in Path("/proc/cpuinfo").read_text().split()

# One window of a bundled model through LiteRT in a fresh process; prints the LiteRT cpuinfo
# flags that the start-up hook cleared (asked again: it finds nothing left to clear) and the output.
CHILD = """
import json, sys, numpy as np
from ai_edge_litert.interpreter import Interpreter
interpreter = Interpreter(model_path=sys.argv[1], num_threads=1)
interpreter.allocate_tensors()
source = interpreter.get_input_details()[0]
window = np.random.default_rng(0).random(source["shape"]).astype(source["dtype"])
interpreter.set_tensor(source["index"], window)
interpreter.invoke()
output = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
import sitecustomize
print(json.dumps({"left": sitecustomize.hide_avx512_from_litert(), "output": output.ravel()[::97].tolist()}))
"""


def run_child(model, max_isa):
    env = dict(os.environ, PYTHONPATH=str(REPO / "benchmarks" / "max_isa"))
    env.pop("KERAS_SA_BENCH_MAX_ISA", None)
    if max_isa:
        env["KERAS_SA_BENCH_MAX_ISA"] = max_isa
    result = subprocess.run([sys.executable, "-c", CHILD, str(model)], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


# The float32 kernels differ in summation order only. The dynamic-range model quantizes each
# activation to int8 on the fly, after float reductions (the attention's softmax and products)
# that the two instruction sets sum in different orders: a value on a rounding boundary then
# moves by one int8 step, and the masks by up to a few thousandths (0.0033 on this window),
# where the conversion's masks are up to 0.22 from the float model's (tflite/models/REPORT.md).
@pytest.mark.skipif(not HAS_AVX512, reason="the CPU has no AVX-512 to hide")
@pytest.mark.parametrize("name, tolerance", [("float32", 1e-4), ("dynamic", 1e-2)])
def test_avx2_kernels_compute_what_the_avx512_ones_do(name, tolerance):
    native, avx2 = run_child(MODELS[name], None), run_child(MODELS[name], "avx2")
    # Without the variable the hook leaves LiteRT alone, so the AVX-512 flags are still there;
    # with it they were cleared before the interpreter existed.
    assert native["left"] and 29 in native["left"]  # avx512f
    assert avx2["left"] == []
    difference = max(abs(a - b) for a, b in zip(native["output"], avx2["output"]))
    assert 0 < len(avx2["output"]) and difference < tolerance


def test_another_value_is_refused_by_peers_sh():
    result = subprocess.run(["bash", str(REPO / "benchmarks" / "peers.sh"), "--max-isa", "sse2"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr == "peers.sh: --max-isa takes avx2\n"
