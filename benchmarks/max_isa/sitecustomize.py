"""Hide AVX-512 (and AVX-VNNI) from LiteRT, so that a benchmark on an AVX-512 host runs the
kernels an AVX2-only host runs.

Loaded by Python at start-up when this folder is on ``PYTHONPATH`` (``benchmarks/peers.sh
--max-isa avx2`` puts it there); it acts only when ``KERAS_SA_BENCH_MAX_ISA=avx2`` is set and
the LiteRT wheel (``ai_edge_litert``) is installed, and does nothing in any other process.

XNNPACK and ruy, the kernels behind LiteRT, choose their code paths once, from the flags that
the cpuinfo library reads from CPUID into its ``cpuinfo_isa`` structure; neither has a switch
for it (PyTorch, oneDNN, MKL and numpy each have one, which ``peers.sh`` sets). The wheel's
``libpywrap_litert_common.so`` keeps its symbol table, so this initializes cpuinfo itself
before any interpreter exists, then clears the AVX-512 and AVX-VNNI flags: every kernel chosen
afterwards is the AVX2 one (one window of the bundled model then takes about twice as long).
The flags are cleared only after the structure's layout checks out against ``/proc/cpuinfo``;
otherwise the process stops with one line saying why, rather than time the wrong kernels.
"""

import ctypes
import importlib.util
import os
import subprocess

# cpuinfo_x86_isa on x86-64 (pytorch/cpuinfo include/cpuinfo.h): byte offsets of the flags
# checked against /proc/cpuinfo, and of those cleared.
_CHECKED = {22: "avx", 24: "fma", 27: "f16c", 28: "avx2", 29: "avx512f", 32: "avx512cd",
            33: "avx512dq", 34: "avx512bw", 35: "avx512vl", 41: "avx512_vnni", 42: "avx512_bf16"}
_AVX_VNNI = 23
_AVX512 = range(29, 45)  # avx512f ... avx512vp2intersect


class _LinkMap(ctypes.Structure):
    _fields_ = [("l_addr", ctypes.c_size_t)]


def _symbols(path, names):
    table = subprocess.run(["nm", "-S", path], capture_output=True, text=True, check=True).stdout
    found = {}
    for line in table.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] in names:
            found[parts[3]] = (int(parts[0], 16), int(parts[1], 16))
    missing = set(names) - set(found)
    if missing:
        raise RuntimeError(f"{path} has no symbol {', '.join(sorted(missing))}")
    return found


def hide_avx512_from_litert():
    """Clear the AVX-512 and AVX-VNNI flags of LiteRT's cpuinfo; returns the flags cleared."""
    spec = importlib.util.find_spec("ai_edge_litert")
    path = os.path.join(os.path.dirname(spec.origin), "libpywrap_litert_common.so")
    symbols = _symbols(path, ("cpuinfo_initialize", "cpuinfo_isa"))
    library = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    link_map = ctypes.POINTER(_LinkMap)()
    RTLD_DI_LINKMAP = 2
    if ctypes.CDLL(None).dlinfo(ctypes.c_void_p(library._handle), RTLD_DI_LINKMAP, ctypes.byref(link_map)):
        raise RuntimeError("dlinfo failed")
    base = link_map.contents.l_addr
    if not ctypes.CFUNCTYPE(ctypes.c_bool)(base + symbols["cpuinfo_initialize"][0])():
        raise RuntimeError("cpuinfo_initialize failed")
    offset, size = symbols["cpuinfo_isa"]
    isa = (ctypes.c_uint8 * size).from_address(base + offset)
    with open("/proc/cpuinfo") as cpuinfo:
        flags = next(line for line in cpuinfo if line.startswith("flags")).split(":")[1].split()
    # A flag set that the CPU lacks, or one missing that it has (unless cleared already), means
    # the bytes are not the fields this expects.
    wrong = [name for index, name in _CHECKED.items()
             if bool(isa[index]) != (name in flags) and not (index in _AVX512 and not isa[index])]
    if wrong:
        raise RuntimeError(f"cpuinfo_isa does not have the expected layout (flags {', '.join(wrong)} differ)")
    cleared = [index for index in (_AVX_VNNI, *_AVX512) if isa[index]]
    for index in cleared:
        isa[index] = 0
    return cleared


if os.environ.get("KERAS_SA_BENCH_MAX_ISA") == "avx2" and importlib.util.find_spec("ai_edge_litert"):
    try:
        hide_avx512_from_litert()
    except (OSError, RuntimeError, StopIteration, subprocess.CalledProcessError) as error:
        raise SystemExit(f"KERAS_SA_BENCH_MAX_ISA=avx2: cannot hide AVX-512 from LiteRT ({error})")
