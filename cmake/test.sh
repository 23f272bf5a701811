#!/usr/bin/env bash
# Installs what is needed, builds Fieldbook twice (Release, and ASan+UBSan) and runs every
# test through ctest in both. Exits non-zero if anything fails.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
./cmake/install-deps.sh

echo "== Release build ($(date -u +%T))"
# Tests and benchmarks named on: the demo configures the same build directory without
# them, and CMake would otherwise keep that choice from its cache.
./cmake/build.sh build -DFIELDBOOK_BUILD_TESTS=ON -DFIELDBOOK_BUILD_BENCH=ON
echo "== Release tests ($(date -u +%T))"
(cd build && ctest -j2 --output-on-failure --no-tests=error --timeout 600)

echo "== ASan+UBSan build ($(date -u +%T))"
# -O1 with line tables only: instrumented Beast templates made the HTTP server's one file
# take minutes at -O2 -g; this halves the build and reports still name file and line.
./cmake/build.sh build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFIELDBOOK_SANITIZE=ON -DFIELDBOOK_BUILD_TESTS=ON \
  -DFIELDBOOK_BUILD_BENCH=OFF "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" \
  "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG"
echo "== ASan+UBSan tests ($(date -u +%T))"
# The simulation runs its full seed count in the Release build; a sample here.
lsan_suppressions="$root/cmake/lsan.supp"
(cd build-asan && FIELDBOOK_SIM_SEEDS="${FIELDBOOK_SIM_SEEDS_ASAN:-40}" \
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  LSAN_OPTIONS="suppressions=${lsan_suppressions}" \
  ctest -j2 --output-on-failure --no-tests=error --timeout 900)
echo "== all tests passed ($(date -u +%T))"
