#!/usr/bin/env bash
# Part of the GPU session of 2026-11-27 (second call): the drift of long lifelong streams (scripts/drift_probe.py),
# four variants of the shipped recipe trained side by side on the lent GPU over the first
# 200 BSDS500 train images, scored on the first 50 val images every 50 images (compact and
# paper clustering, K=100 and 400; the clustering on 4 CPU threads per variant).
# Run from the repository root on the device machine with the BSDS500 subset in .dev/bsds500
# (train: all 200 images; val is needed too). Dry run on a CPU: DRY=1 bash scripts/device_drift.sh
set -u
OUT=${OUT:-/tmp/dev-out}; mkdir -p "$OUT"
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1 LNSNET_BSDS500=$PWD/.dev/bsds500 OMP_NUM_THREADS=4 NUMBA_NUM_THREADS=4
PY=${PY:-python3}
if [ -n "${DRY:-}" ]; then A="--images 2 --every 1 --val-images 2 --ks 100 --device cpu"; else A="--images 200 --every 50"; fi
date; nvidia-smi -L 2>&1
for v in base decay50:lr_decay_images=50 beta30:beta=30 lr1e-4:lr=0.0001; do
  n=${v%%:*}
  $PY scripts/drift_probe.py "$v" "$OUT/drift-$n.jsonl" $A > "$OUT/drift-$n.log" 2>&1 &
done
wait; date
tail -n 3 "$OUT"/drift-*.log
