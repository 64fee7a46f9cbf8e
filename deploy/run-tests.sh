#!/usr/bin/env bash
# Installs what is needed, builds, and runs every Stratus test.
#
#   1. deploy/install-deps.sh (Debian packages, idempotent), then
#      deploy/check-format.sh (every C file follows .clang-format)
#   2. build-ci/gcc:  gcc, -Wall -Wextra -Werror (compile only: gcc's warnings)
#   3. build-ci/asan: clang, -Werror, AddressSanitizer + UndefinedBehaviorSanitizer,
#                     libFuzzer targets; every ctest test runs here, the fuzzers
#                     for at most 3 s each (STRATUS_FUZZ_MAX_SECONDS; their own,
#                     longer times apply in a build configured without it), and
#                     vmm_linux_seccomp: a real Linux driving virtio-net, virtio-blk
#                     and the control API under build-ci/gcc's optimised stratus-vmm
#                     with its seccomp filter on, as in production (the sanitizer
#                     build's filter allows its runtime's calls too, so only that
#                     build checks the filter itself; STRATUS_SECCOMP_VMM)
# Each phase prints its time since the start.
#
# Pass ctest arguments through, e.g. `deploy/run-tests.sh -R '^gateway_'`.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc)

t0=$SECONDS
phase() { echo "== $1 (at $((SECONDS - t0)) s)"; }
bash deploy/install-deps.sh
bash deploy/check-format.sh

phase "gcc build (warnings are errors)"
cmake -S . -B build-ci/gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATUS_WERROR=ON >/dev/null
cmake --build build-ci/gcc -j"$jobs" -- --no-print-directory >/dev/null

phase "clang + ASan/UBSan build"
CC=clang cmake -S . -B build-ci/asan -DCMAKE_BUILD_TYPE=Debug -DSTRATUS_WERROR=ON \
  -DSTRATUS_SANITIZE=ON -DSTRATUS_FUZZ=ON -DSTRATUS_FUZZ_MAX_SECONDS=3 \
  -DSTRATUS_SECCOMP_VMM="$top/build-ci/gcc/compute-node/vmm/stratus-vmm" >/dev/null
cmake --build build-ci/asan -j"$jobs" -- --no-print-directory >/dev/null

phase "tests"
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
rc=0
ctest --test-dir build-ci/asan --output-on-failure -j"$jobs" "$@" || rc=$?
phase "done, ctest status $rc"
exit $rc
