#!/usr/bin/env bash
# One GPU session for issue 8 (RIM and SSN need a GPU): run from the repository root on
# the device machine with the BSDS500 subset in .dev/bsds500 (train: all 200 images;
# test: the first 100 in name order) and writes everything under $OUT.
#   1. benchmarks/gpu_timing.py: LNS-Net, SSN, RIM time per image on the GPU, alone
#   2. SSN training on BSDS500 train for SSN_MINUTES (resumable; model + state + losses)
#   3. at the same time, `lnsnet benchmark --methods rim --k 100,400` on the test subset
#      until RIM_SECONDS (rows are written as images finish; the run resumes)
# Dry run on a CPU: DRY=1 bash scripts/device_issue8.sh (tiny settings, OUT=/tmp/dev-out)
# Preparing .dev (ignored by git; B is the BSDS500 folder with images/ and groundTruth/):
#   mkdir -p .dev/bsds500/{images,groundTruth}/{train,test}
#   cp $B/images/train/*.jpg .dev/bsds500/images/train/; cp $B/groundTruth/train/*.mat .dev/bsds500/groundTruth/train/
#   for f in $(ls $B/images/test/*.jpg | sort | head -100); do n=$(basename $f .jpg)
#     cp $f .dev/bsds500/images/test/; cp $B/groundTruth/test/$n.mat .dev/bsds500/groundTruth/test/; done
#   cp any SSN model file to .dev/ssn-init.pt (only timed, its weights do not matter)
# The 2026-11-26 run: SSN_MINUTES=6 RIM_SECONDS=380, then a second call resuming both
# (SSN 4.6 more minutes from its checkpoint; the RIM benchmark 300 s more from its rows).
set -u
OUT=${OUT:-/tmp/dev-out}; mkdir -p "$OUT"
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1 LNSNET_BSDS500=$PWD/.dev/bsds500
PY=${PY:-python3}
SSN_MINUTES=${SSN_MINUTES:-6.5}; RIM_SECONDS=${RIM_SECONDS:-400}; RIM_LIMIT=${RIM_LIMIT:-100}
if [ -n "${DRY:-}" ]; then TIMING="--images 1 --rim-images 1 --rim-iterations 2 --device cpu"; SSN="--steps 3 --limit 3";
else TIMING="--images 5 --rim-images 3"; SSN="--minutes $SSN_MINUTES"; fi
{
  date; nvidia-smi -L 2>&1; $PY -c "import torch, numba, skimage, scipy; print('torch', torch.__version__, torch.cuda.is_available(), 'numba', numba.__version__, 'skimage', skimage.__version__)"
  echo "== 1. timing"; $PY benchmarks/gpu_timing.py $TIMING --ssn-model .dev/ssn-init.pt 2>&1 | tee "$OUT/gpu_timing.txt"
  echo "== 2+3. SSN training and RIM benchmark"; date
  $PY -m lnsnet.eval.ssn "$OUT/ssn_gpu.pt" --splits train --checkpoint-every 500 $SSN > "$OUT/ssn_train.txt" 2>&1 &
  SSN_PID=$!
  if [ -n "${DRY:-}" ]; then
    $PY -m lnsnet.cli benchmark --split test --methods ssn --k 100 -o /tmp/rim-bench --workers 2 --limit 1 --no-plots -q
  else
    timeout "$RIM_SECONDS" $PY -m lnsnet.cli benchmark --split test --methods rim --k 100,400 -o /tmp/rim-bench --workers 2 --limit "$RIM_LIMIT" --no-plots -q
  fi
  echo "benchmark exit $?"; date
  cp /tmp/rim-bench/rows.csv /tmp/rim-bench/meta.json "$OUT/" 2>&1
  wait $SSN_PID; echo "ssn exit $?"; tail -c 600 "$OUT/ssn_train.txt"; date
} 2>&1 | tee "$OUT/log.txt"
