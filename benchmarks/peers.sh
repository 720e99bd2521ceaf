#!/usr/bin/env bash
# keras_sa's default path beside the peer separators (Open-Unmix, Spleeter, Demucs on random
# weights, set up by ../shared/peers/setup.sh), timed as whole processes in interleaved rounds by
# ../shared/peers/time_peers.sh. With --candidate LABEL=MODEL (repeatable), `keras-sa separate
# --model MODEL` is timed in the same rounds under LABEL, so models about to become the default
# are compared with today's and with the peers on the same machine, in the same run.
#
# With --max-isa avx2, every process of the run is kept off AVX-512 (and AVX-VNNI) on an AVX-512
# host, so that one host can also answer for AVX2-only ones: LiteRT through
# benchmarks/max_isa/sitecustomize.py, PyTorch, oneDNN, MKL, numpy and OpenBLAS through their own
# switches. Only the instruction sets change; the cores, caches and clock stay this host's.
#
# Run from the checkout (its .venv):
#   ../shared/peers/setup.sh umx
#   bash benchmarks/peers.sh [--max-isa avx2] [--candidate LABEL=MODEL.tflite]... [SONG] [RUNS] [PEER ...]
# Defaults: the 133 s CC BY song, 3 runs, peer umx (the fastest). Prints the CPU flags that
# matter (AVX-512 makes the same command about 2x faster) and time_peers.sh's Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
PEERS_DIR=$(cd ../shared/peers && pwd)
candidates=()
max_isa=
while [ "${1:-}" = "--candidate" ] || [ "${1:-}" = "--max-isa" ]; do
    if [ "$1" = "--max-isa" ]; then
        [ "${2:-}" = avx2 ] || { echo "peers.sh: --max-isa takes avx2" >&2; exit 2; }
        max_isa=avx2; shift 2; continue
    fi
    [[ "${2:-}" =~ ^[A-Za-z0-9_]+=.+ ]] || { echo "peers.sh: --candidate LABEL=MODEL" >&2; exit 2; }
    candidates+=("$2"); shift 2
done
if [ -n "$max_isa" ]; then
    export KERAS_SA_BENCH_MAX_ISA=avx2 PYTHONPATH=$PWD/benchmarks/max_isa${PYTHONPATH:+:$PYTHONPATH}
    export ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 DNNL_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2
    # numpy 2's dispatch targets, then numpy 1's (Spleeter's venv); each ignores the other's.
    export NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX AVX512_CLX AVX512_CNL"
    export OPENBLAS_CORETYPE=Haswell
fi
song=${1:-../shared/data/songs/Karissa_Hobbs_-_Lets_Go_Fishin.ogg}
runs=${2:-3}
shift $(( $# >= 2 ? 2 : $# ))
peers=("$@"); [ ${#peers[@]} -gt 0 ] || peers=(umx)

wrappers=$(mktemp -d /tmp/peers_wrappers.XXXXXX)
trap 'rm -rf "$wrappers"' EXIT
# The wrappers find their helpers (umx_cli.py, ...) beside themselves.
for file in "$PEERS_DIR"/*; do ln -s "$file" "$wrappers/"; done
names=(kerassa)
for candidate in "${candidates[@]}"; do
    label=${candidate%%=*}; model=$(realpath "${candidate#*=}")
    printf '#!/usr/bin/env bash\nKERAS_SA_ARGS="--model %q" exec %q "$@"\n' "$model" "$PEERS_DIR/run_kerassa.sh" \
        > "$wrappers/run_$label.sh"
    chmod +x "$wrappers/run_$label.sh"
    names+=("$label")
done
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores," \
    "flags: $(grep -m1 -o -w -E 'avx2|avx512f|avx512_vnni|avx512_bf16' /proc/cpuinfo | sort -u | xargs)" \
    "${max_isa:+(AVX-512 and AVX-VNNI hidden from every library: --max-isa avx2)}"
KERAS_SA_VENV=$PWD/.venv WRAPPERS=$wrappers "$PEERS_DIR/time_peers.sh" "$song" "$runs" "${names[@]}" "${peers[@]}"
