#!/usr/bin/env bash
# Part of the GPU session of 2026-11-27 (first call): the default (compact) clustering and the paper's on the lent
# GPU against the CPU of the same machine. Run from the repository root on the device
# machine with the BSDS500 subset in .dev/bsds500 (how it is made: scripts/device_issue8.sh).
#   1. benchmarks/gpu_timing.py at K=100 and K=1000, 20 test images, one image per call
#   2. benchmarks/gpu_throughput.py: batches of 20 images, one 4000x3000 image at K=5000,
#      training seconds per image; GPU and the machine's CPU in the same run
# Dry run on a CPU: DRY=1 bash scripts/device_issue4_gpu.sh
set -u
OUT=${OUT:-/tmp/dev-out}; mkdir -p "$OUT"
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1 LNSNET_BSDS500=$PWD/.dev/bsds500
PY=${PY:-python3}
if [ -n "${DRY:-}" ]; then N="--images 2"; T="--images 2 --train-images 1 --large 600x400 --large-k 300";
else N="--images 20"; T="--images 20 --train-images 3"; fi
{
  date; nvidia-smi -L 2>&1; $PY -c "import torch, numba, skimage; print('torch', torch.__version__, torch.cuda.is_available(), 'numba', numba.__version__, 'skimage', skimage.__version__)"
  for k in 100 1000; do
    echo "== 1. timing K=$k"; $PY benchmarks/gpu_timing.py $N --k $k --methods lnsnet,lnsnet-paper 2>&1 | tee "$OUT/gpu_timing_k$k.txt"
  done
  echo "== 2. throughput"; date
  $PY benchmarks/gpu_throughput.py $T 2>&1 | tee "$OUT/gpu_throughput.txt"
  date
} 2>&1 | tee "$OUT/log.txt"
