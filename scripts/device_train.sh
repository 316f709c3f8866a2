#!/usr/bin/env bash
# Part of the GPU session of 2026-11-27 (third call): two candidate recipes for the shipped model trained on the
# lent GPU, side by side, over all 200 BSDS500 train images in name order (checkpoints every
# 25 images under $OUT, so a cut run resumes on any machine with --resume):
#   lr1e-4         the paper's schedule with Adam lr 1e-4 (instead of 3e-4)
#   lr1e-4-beta30  the same with reconstruction weight 30 (instead of 10)
set -u
OUT=${OUT:-/tmp/dev-out}; mkdir -p "$OUT"
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1 OMP_NUM_THREADS=8
PY=${PY:-python3}
date
$PY -m lnsnet.cli train .dev/bsds500/images/train -o "$OUT/lr1e-4.pt" --lr 1e-4 --seed 0 --checkpoint-every 25 \
  --log "$OUT/lr1e-4.jsonl" --device cuda -q > "$OUT/lr1e-4.log" 2>&1 &
$PY -m lnsnet.cli train .dev/bsds500/images/train -o "$OUT/lr1e-4-beta30.pt" --lr 1e-4 --beta 30 --seed 0 \
  --checkpoint-every 25 --log "$OUT/lr1e-4-beta30.jsonl" --device cuda -q > "$OUT/lr1e-4-beta30.log" 2>&1 &
wait; date; wc -l "$OUT"/*.jsonl; tail -n 2 "$OUT"/*.log
