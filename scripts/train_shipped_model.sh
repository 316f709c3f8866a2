#!/usr/bin/env bash
# Reproduce the shipped model src/lnsnet/weights/bsds500.pt:
# lifelong training on the 200 BSDS500 train images then the 100 val images (each folder
# sorted by name; never test), paper defaults, K drawn per image from 100/200/400, seed 0;
# then export without the optimiser state. The stream is resumable (--resume): the model
# shipped since 2026-11-26 continued the 200-image train checkpoint of the first recipe on
# the val images, which is the same stream.
#   usage: LNSNET_BSDS500=/path/to/bsds500 bash scripts/train_shipped_model.sh [workdir]
set -euo pipefail
BSDS="${LNSNET_BSDS500:-$(dirname "$0")/../../shared/data/bsds500}"
WORK="${1:-runs/shipped}"
mkdir -p "$WORK"
lnsnet train "$BSDS/images/train" "$BSDS/images/val" -o "$WORK/bsds500.pt" --seed 0 --checkpoint-every 5 \
    --log "$WORK/train.jsonl" --threads 2 --resume
python - "$WORK/bsds500.pt" <<'PY'
import sys
from lnsnet import checkpoint
src = sys.argv[1]
print(checkpoint.export_model(src, "src/lnsnet/weights/bsds500.pt",
                              data="BSDS500 images/train + images/val (300 images, in that order)", recipe="scripts/train_shipped_model.sh"))
PY
