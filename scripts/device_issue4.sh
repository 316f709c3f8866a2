#!/usr/bin/env bash
# One GPU session (2026-11-26 evening): run from the repository root on the device machine
# with the BSDS500 subset in .dev/bsds500 (see scripts/device_issue8.sh for how it is made).
#   1. benchmarks/gpu_timing.py: LNS-Net with the default clustering (network on the GPU,
#      clustering on the CPU) and with the paper's one-shot clustering (all on the GPU),
#      SSN, RIM; SLIC on the CPU as the baseline of the same run
#   2. the RIM benchmark rows of docs/benchmarks/rim-test-subset resumed on more test images
#      (K=100,400, first 100 test images) until RIM_SECONDS
# Dry run on a CPU: DRY=1 bash scripts/device_issue4.sh
set -u
OUT=${OUT:-/tmp/dev-out}; mkdir -p "$OUT"
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1 LNSNET_BSDS500=$PWD/.dev/bsds500
PY=${PY:-python3}
RIM_SECONDS=${RIM_SECONDS:-330}
if [ -n "${DRY:-}" ]; then TIMING="--images 1 --rim-images 1 --rim-iterations 2 --device cpu"; RIM_SECONDS=20;
else TIMING="--images 5 --rim-images 3"; fi
{
  date; nvidia-smi -L 2>&1
  echo "== 1. timing"; $PY benchmarks/gpu_timing.py $TIMING 2>&1 | tee "$OUT/gpu_timing.txt"
  echo "== 2. RIM benchmark, resumed"; date
  mkdir -p /tmp/rim-bench && cp docs/benchmarks/rim-test-subset/rim_rows.csv /tmp/rim-bench/rows.csv \
    && cp docs/benchmarks/rim-test-subset/rim_meta.json /tmp/rim-bench/meta.json
  timeout "$RIM_SECONDS" $PY -m lnsnet.cli benchmark --split test --methods rim --k 100,400 -o /tmp/rim-bench \
    --workers 2 --limit 100 --no-plots -q
  echo "benchmark exit $?"; date
  cp /tmp/rim-bench/rows.csv "$OUT/rim_rows.csv"; cp /tmp/rim-bench/meta.json "$OUT/rim_meta.json"
  wc -l "$OUT/rim_rows.csv"
} 2>&1 | tee "$OUT/log.txt"
