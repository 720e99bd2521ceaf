#!/usr/bin/env bash
# Builds separator-core (the Android demo's plain-Java signal chain) with javac and runs its
# JUnit 4 tests on the JVM, without Gradle or the Android SDK.
#
# Needs a JDK (17) and Debian's junit4, libhamcrest-java and libgoogle-gson-java:
#   apt-get install openjdk-17-jdk-headless junit4 libhamcrest-java libgoogle-gson-java
# Output: android_demo/build/jvm/ (ignored by git). Exits non-zero when a test fails.
#
# Environment: JAVA_LIBS (default /usr/share/java) is where the jars are looked up;
# KERAS_SA_GOLDEN, when set, is the golden vectors' folder instead of
# separator-core/src/test/resources/golden (as for the web demo's tests).
#
# --require-golden: fail, rather than skip the parity tests, when the golden vectors
# (written by tools/make_golden.py; not committed) are absent.
# Test class names (e.g. MutationTest) after it run only those classes; a longer mutation
# campaign: KERASSA_MUTATION_ITERATIONS=25 KERASSA_MUTATION_SEED=7 ./run_jvm_tests.sh MutationTest
set -euo pipefail
if [ -n "${KERAS_SA_GOLDEN:-}" ]; then
    # Relative to where the script was run from, not to android_demo/.
    KERAS_SA_GOLDEN="$(cd "$KERAS_SA_GOLDEN" 2>/dev/null && pwd || echo "$KERAS_SA_GOLDEN")"
    export KERAS_SA_GOLDEN
fi
cd "$(dirname "$0")"

require_golden=
if [ "${1:-}" = "--require-golden" ]; then
    require_golden=1
    shift
fi
only=("$@")

golden="${KERAS_SA_GOLDEN:-separator-core/src/test/resources/golden}"
if [ -n "$require_golden" ] && [ ! -f "$golden/manifest.json" ]; then
    echo "run_jvm_tests.sh: no golden vectors at $golden; write them first with" \
        ".venv/bin/python android_demo/tools/make_golden.py --data ../shared/data/mir1k" >&2
    exit 1
fi

libs="${JAVA_LIBS:-/usr/share/java}"
find_jar() {
    local found
    for name in "$@"; do
        if [ -f "$libs/$name" ]; then
            found="$libs/$name"
            echo "$found"
            return
        fi
    done
    echo "run_jvm_tests.sh: none of $* in $libs (apt-get install junit4 libhamcrest-java libgoogle-gson-java)" >&2
    exit 1
}
command -v javac >/dev/null || { echo "run_jvm_tests.sh: javac not found (apt-get install openjdk-17-jdk-headless)" >&2; exit 1; }
junit="$(find_jar junit4.jar junit.jar)"
hamcrest="$(find_jar hamcrest-core.jar hamcrest.jar hamcrest-all.jar)"
gson="$(find_jar gson.jar)"

core=separator-core
out=build/jvm
rm -rf "$out"
mkdir -p "$out/main" "$out/test"

# Main sources at the Java 8 API level the app's minSdk 26 runtime provides (as separator-core's
# build.gradle.kts compiles them).
find "$core/src/main/java" -name '*.java' > "$out/main-sources.txt"
javac --release 8 -Xlint:all,-options -encoding UTF-8 -cp "$gson" -d "$out/main" @"$out/main-sources.txt"

find "$core/src/test/java" -name '*.java' > "$out/test-sources.txt"
echo tools/JvmTestRunner.java >> "$out/test-sources.txt"
javac -Xlint:all -encoding UTF-8 -cp "$out/main:$gson:$junit:$hamcrest" -d "$out/test" @"$out/test-sources.txt"

classpath="$out/test:$out/main:$core/src/test/resources:$gson:$junit:$hamcrest"
tests=$(cd "$core/src/test/java" && find . -name '*Test.java' | sed 's|^\./||; s|\.java$||; s|/|.|g' | sort)
if [ ${#only[@]} -gt 0 ]; then
    tests=$(for name in "${only[@]}"; do echo "$tests" | grep -x "\(.*\.\)\?$name" \
        || { echo "run_jvm_tests.sh: no test class $name" >&2; exit 1; }; done)
fi
echo "javac $(javac -version 2>&1 | cut -d' ' -f2): compiled $(wc -l < "$out/main-sources.txt") main and $(( $(wc -l < "$out/test-sources.txt") - 1 )) test sources; running $(echo "$tests" | wc -l) test classes"
# shellcheck disable=SC2086
java -cp "$classpath" JvmTestRunner $tests
