#!/usr/bin/env bash
# The whole test suite, as CI runs it: the release build's tests, the same tests
# under AddressSanitizer + UndefinedBehaviorSanitizer, an installed package used by a
# separate project (CMake and pkg-config), the aarch64 build under qemu with and
# without the dot-product extension, 60 s of fuzzing per reader and a ThreadSanitizer
# run of concurrent Sessions. Prints "N passed, N failed" at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc)
scripts/install-deps.sh

passed=0
failed=0
# phase NAME: marks where a part of the suite starts, for the timing summary at the end.
phases=""
phase() { phases="$phases$1 from ${SECONDS}s; "; echo "=== $1 (at ${SECONDS}s)"; }
# run_ctest NAME BUILD_DIR [ctest args]: runs and tallies one ctest invocation.
run_ctest() {
  local name=$1 dir=$2
  shift 2
  echo "=== ctest $name (at ${SECONDS}s)"
  set +e
  ctest --test-dir "$dir" -j"$jobs" --output-on-failure "$@" 2>&1 | tee "$dir/ctest-$name.log"
  set -e
  local line total bad
  line=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" "$dir/ctest-$name.log" | tail -1 || true)
  if [ -z "$line" ]; then
    echo "$name: ctest did not run"
    failed=$((failed + 1))
    return
  fi
  bad=$(echo "$line" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/')
  total=$(echo "$line" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/')
  skipped=$(grep -cE "\*\*\*Skipped|Not Run" "$dir/ctest-$name.log" || true)
  passed=$((passed + total - bad - skipped))
  failed=$((failed + bad))
}

# 1. Release build: unit, fixture and example tests.
phase release
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
# The official openai npm client, for the server tests (without it they skip, or fail
# under CI=true: the suite goes on either way).
tests/server/install-client.sh build/node || echo "install-client: failed; the server client tests cannot run"
run_ctest release build

# 2. The same tests under ASan + UBSan.
phase sanitizers
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O0 -g1" -DNIBBLE_SANITIZE=ON \
  -DNIBBLE_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j"$jobs"
tests/server/install-client.sh build-asan/node || echo "install-client: failed; the server client tests cannot run"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 run_ctest sanitizers build-asan

# 3. Install, then build and run a separate project against the installed package, as an
# application would: the static library, a shared one (its exports and SONAME checked),
# and a Debian-style libdir (lib/x86_64-linux-gnu), each through CMake and through
# pkg-config, the consumer compiled with the compiler's default standard (no -std flag:
# the package carries C++20).
consumer_ok=1
# consumer NAME PREFIX LIBDIR [--static]: builds examples/consumer both ways and runs it.
consumer() {
  local name=$1 prefix=$2 libdir=$3 static=${4:-}
  local dir="build-consumer/$name"
  mkdir -p "$dir"
  if cmake -S examples/consumer -B "$dir/cmake" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null &&
     cmake --build "$dir/cmake" -j"$jobs" >/dev/null && out=$("$dir/cmake/consumer") && [[ "$out" == "Once upon a time"?* ]]; then
    echo "$name: cmake consumer: $out"
  else
    echo "$name: cmake consumer: FAILED"; consumer_ok=0
  fi
  local flags model
  flags=$(PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig" pkg-config $static --cflags --libs nibble) &&
    model=$(PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig" pkg-config --variable=default_model nibble) || consumer_ok=0
  echo "$name: pkg-config $static --cflags --libs nibble: $flags"
  # shellcheck disable=SC2086
  if g++ -o "$dir/consumer-pc" examples/consumer/main.cpp -DNIBBLE_MODEL="\"$model\"" $flags &&
     out=$(LD_LIBRARY_PATH="$prefix/$libdir" "$dir/consumer-pc") && [[ "$out" == "Once upon a time"?* ]]; then
    echo "$name: pkg-config consumer: $out"
  else
    echo "$name: pkg-config consumer: FAILED"; consumer_ok=0
  fi
  # docs/embedding.md's C program, compiled as C with the build line that page gives.
  local libs
  libs=$(PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig" pkg-config $static --libs nibble) || consumer_ok=0
  # shellcheck disable=SC2086
  if cc -std=c11 -Wall -Wextra -Werror -pedantic -o "$dir/hello-c" examples/embedding/hello.c \
       $(PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig" pkg-config --cflags-only-I nibble) $libs &&
     out=$(cd "$dir" && LD_LIBRARY_PATH="$prefix/$libdir" ./hello-c "$model") && [[ "$out" == "Once upon a time"?* ]]; then
    echo "$name: C consumer (cc, pkg-config): ${out%%$'\n'*}"
  else
    echo "$name: C consumer (cc, pkg-config): FAILED"; consumer_ok=0
  fi
}
phase consumer
rm -rf build-prefix build-consumer
# The release build, installed twice: lib/ and Debian's multiarch libdir.
cmake -S . -B build -DCMAKE_INSTALL_PREFIX="$root/build-prefix/static" -DCMAKE_INSTALL_LIBDIR=lib >/dev/null
cmake --install build >/dev/null
consumer static "$root/build-prefix/static" lib --static
cmake -S . -B build -DCMAKE_INSTALL_PREFIX="$root/build-prefix/debian" -DCMAKE_INSTALL_LIBDIR=lib/x86_64-linux-gnu >/dev/null
cmake --install build >/dev/null
consumer debian-libdir "$root/build-prefix/debian" lib/x86_64-linux-gnu --static
# The shared library: only what the consumer needs is built.
cmake -S . -B build-shared -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DNIBBLE_BUILD_TESTS=OFF \
  -DNIBBLE_BUILD_BENCH=OFF -DNIBBLE_BUILD_EXAMPLES=OFF -DCMAKE_INSTALL_PREFIX="$root/build-prefix/shared" >/dev/null
cmake --build build-shared -j"$jobs" >/dev/null
cmake --install build-shared >/dev/null
so="$root/build-prefix/shared/lib/libnibble.so"
if readelf -d "$so" | grep -q "SONAME.*\[libnibble\.so\.0\]"; then echo "shared: SONAME libnibble.so.0"; else echo "shared: SONAME wrong"; consumer_ok=0; fi
internal=$(nm -DC --defined-only "$so" | grep -cE "nibble::(formats|kernels|detail)::" || true)
exported=$(nm -DC --defined-only "$so" | grep -cE " nibble::" || true)
if [ "$internal" -eq 0 ] && [ "$exported" -gt 10 ]; then
  echo "shared: $exported nibble:: symbols exported, none internal"
else
  echo "shared: exports $exported nibble:: symbols of which $internal internal: FAILED"; consumer_ok=0
fi
# Every function include/nibble/nibble.h declares is exported.
c_declared=$(grep -E "^NIBBLE_API " include/nibble/nibble.h | grep -oE "nibble_[a-z_]+\(" | tr -d "(" | sort -u)
c_missing=$(comm -23 <(echo "$c_declared") <(nm -D --defined-only "$so" | awk '$2 == "T" {print $3}' | sort -u))
if [ -z "$c_missing" ]; then echo "shared: all $(echo "$c_declared" | wc -l) C functions of nibble.h exported"; else
  echo "shared: C functions not exported: $c_missing"; consumer_ok=0; fi
consumer shared "$root/build-prefix/shared" lib
# The release build's install dirs back to their defaults.
cmake -S . -B build -UCMAKE_INSTALL_PREFIX -UCMAKE_INSTALL_LIBDIR >/dev/null
if [ "$consumer_ok" = 1 ]; then passed=$((passed + 1)); echo "consumer: ok"; else failed=$((failed + 1)); echo "consumer: FAILED"; fi

# 4. aarch64: cross-compiled, tests under qemu with and without the dot-product extension.
phase aarch64
cmake -S . -B build-aarch64 --toolchain cmake/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release \
  -DNIBBLE_BUILD_BENCH=OFF >/dev/null
cmake --build build-aarch64 -j"$jobs"
QEMU_CPU=cortex-a76 run_ctest aarch64-dotprod build-aarch64
# The A53 run is for the plain NEON table as the default (the A76 run tests both NEON
# tables side by side); the scalar table's fixture run would repeat the A76's exactly.
QEMU_CPU=cortex-a53 run_ctest aarch64-plain build-aarch64 -L "unit|fixtures" -E "^fixtures \(scalar\)"

# 5. Fuzzing: every reader's libFuzzer target (clang, ASan + UBSan + coverage), 60 s each,
#    two at a time; any crash, leak, timeout (10 s) or out-of-memory (2 GB) fails.
phase fuzz
if CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g" \
     -DNIBBLE_FUZZ=ON -DNIBBLE_BUILD_TESTS=OFF -DNIBBLE_BUILD_BENCH=OFF -DNIBBLE_BUILD_EXAMPLES=OFF >/dev/null &&
   cmake --build build-fuzz -j"$jobs" >/dev/null && tests/fuzz/run.sh build-fuzz 60; then
  passed=$((passed + 1)); echo "fuzz: ok"
else
  failed=$((failed + 1)); echo "fuzz: FAILED"
fi

# 6. ThreadSanitizer: 8 Sessions over 2 Models from 8 threads (only the library and that
#    test, -O1). One OpenMP thread (loading and every Session): libgomp is not instrumented.
phase tsan
if cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g" -DNIBBLE_TSAN=ON \
     -DNIBBLE_BUILD_BENCH=OFF -DNIBBLE_BUILD_EXAMPLES=OFF >/dev/null &&
   cmake --build build-tsan -j"$jobs" --target nibble-concurrency-tests >/dev/null &&
   OMP_NUM_THREADS=1 NIBBLE_CONCURRENCY_OMP_THREADS=1 TSAN_OPTIONS="halt_on_error=1 exitcode=66" \
     build-tsan/tests/nibble-concurrency-tests; then
  passed=$((passed + 1)); echo "tsan: ok"
else
  failed=$((failed + 1)); echo "tsan: FAILED"
fi

echo
echo "timing: ${phases}end at ${SECONDS}s"
echo "suite: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
