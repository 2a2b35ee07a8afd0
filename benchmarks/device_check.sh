#!/usr/bin/env bash
# The device check: what to run when a GPU is lent (issue 15), in under 8 minutes there.
#
#   bash benchmarks/device_check.sh                 # on the GPU machine
#   bash benchmarks/device_check.sh --device cpu    # the dry run (CI-sized, a few minutes)
#   DEVICE_CHECK_TESTS=0 bash benchmarks/device_check.sh --device cpu
#                                                   # ... without step 1 (the test suite's
#                                                   # own dry run: it is inside pytest already)
#
# 1. the CUDA-marked tests (they skip without CUDA); 2. benchmarks/device_check.py: trainer vs
# a bare loop (bf16 + channels_last on CUDA), a 32x32 candidate's images/s and peak memory,
# latency (CUDA events), DARTS and SPOS step memory, `archsearch train` of one candidate.
# Writes device_check.md (into $OUT when set, as the device tool's runs have) in RESULTS.md's
# format.
set -euo pipefail
cd "$(dirname "$0")/.."
device="auto"
if [ "${1:-}" = "--device" ]; then device="$2"; fi
out_dir="${OUT:-.}"
report="$out_dir/device_check.md"
python=${PYTHON:-python}
quick=()
if [ "$device" = "cpu" ]; then quick=(--quick); fi

tests_log="$out_dir/device_check_tests.txt"
if [ "${DEVICE_CHECK_TESTS:-1}" = "0" ]; then
    echo "not run (DEVICE_CHECK_TESTS=0)" > "$tests_log"
else
    echo "== CUDA-marked tests"
    "$python" -m pytest -q -m cuda -p no:randomly -rs tests 2>&1 | tee "$tests_log" | tail -n 15 || true
fi
echo "== benchmarks"
"$python" benchmarks/device_check.py --device "$device" "${quick[@]}" -o "$report.tmp"
{
    echo "## Device check ($(date -u +%Y-%m-%d))"
    echo
    echo "CUDA-marked tests: $(tail -n 1 "$tests_log")"
    echo
    cat "$report.tmp"
} > "$report"
rm -f "$report.tmp"
echo "== written: $report"
