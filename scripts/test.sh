#!/usr/bin/env bash
# Sets up and runs every test on a fresh Debian or Ubuntu machine that has only Python:
#
#   bash scripts/test.sh [PYTEST ARGS...]
#
# 1. System packages, each only if missing (apt-get, as root or through sudo):
#    ffmpeg, which musdb/stempeg need for the MUSDB18 .stem.mp4 tests, and a JDK with
#    JUnit 4, Hamcrest and Gson for the Android demo's plain-Java module.
# 2. A virtual environment in .venv with the pinned packages and this package (editable).
# 3. The JVM tests of android_demo/separator-core, with golden vectors that the Python
#    package writes from the real audio in ../shared/data (skipped when it is absent).
# 4. pytest, with any arguments given to this script.
set -euo pipefail
cd "$(dirname "$0")/.."

data=../shared/data  # where tests/conftest.py looks too
java_libs=/usr/share/java

missing=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || missing+=(ffmpeg)
command -v javac >/dev/null || missing+=(openjdk-17-jdk-headless)
[ -f "$java_libs/junit4.jar" ] || missing+=(junit4)
[ -f "$java_libs/hamcrest-core.jar" ] || missing+=(libhamcrest-java)
[ -f "$java_libs/gson.jar" ] || missing+=(libgoogle-gson-java)
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

if [ -d "$data/mir1k" ]; then
    .venv/bin/python android_demo/tools/make_golden.py --data "$data/mir1k"
    bash android_demo/run_jvm_tests.sh --require-golden
else
    echo "scripts/test.sh: no $data/mir1k: the JVM parity tests are skipped" >&2
    bash android_demo/run_jvm_tests.sh
fi

.venv/bin/pytest "$@"
