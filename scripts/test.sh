#!/usr/bin/env bash
# Sets up and runs every test on a fresh Debian or Ubuntu machine that has only Python:
#
#   bash scripts/test.sh [PYTEST ARGS...]
#
# 1. System packages, each only if missing (apt-get, as root or through sudo):
#    ffmpeg, which musdb/stempeg need for the MUSDB18 .stem.mp4 tests, a JDK with
#    JUnit 4, Hamcrest and Gson for the Android demo's plain-Java module, and Node.js
#    with npm and Chromium for the web demo, and binutils' nm, with which the AVX2 benchmark
#    hook (benchmarks/max_isa) finds LiteRT's cpuinfo.
# 2. A virtual environment in .venv with the pinned packages and this package (editable),
#    and the web demo's pinned npm packages (npm ci in web_demo).
# 3. The JVM tests of android_demo/separator-core and the node tests of the web demo's
#    JavaScript signal chain, with golden vectors that the Python package writes from the
#    real audio in ../shared/data (skipped when it is absent).
# 4. pytest, with any arguments given to this script (tests/test_web.py drives Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."

data=../shared/data  # where tests/conftest.py looks too
java_libs=/usr/share/java

missing=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || missing+=(ffmpeg)
command -v nm >/dev/null || missing+=(binutils)
command -v javac >/dev/null || missing+=(openjdk-17-jdk-headless)
[ -f "$java_libs/junit4.jar" ] || missing+=(junit4)
[ -f "$java_libs/hamcrest-core.jar" ] || missing+=(libhamcrest-java)
[ -f "$java_libs/gson.jar" ] || missing+=(libgoogle-gson-java)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        as_root=()
    elif command -v sudo >/dev/null; then
        as_root=(sudo)
    else
        echo "scripts/test.sh: need root (or sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
    echo "installing ${missing[*]}" >&2
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt -e .
(cd web_demo && npm ci --no-audit --no-fund --loglevel=error)

if [ -d "$data/mir1k" ]; then
    .venv/bin/python android_demo/tools/make_golden.py --data "$data/mir1k"
    bash android_demo/run_jvm_tests.sh --require-golden
else
    echo "scripts/test.sh: no $data/mir1k: the JVM and JavaScript parity tests are skipped" >&2
    bash android_demo/run_jvm_tests.sh
fi
(cd web_demo && npm test --silent)

.venv/bin/pytest "$@"
