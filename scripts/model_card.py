"""Write src/lnsnet/weights/bsds500.md, the shipped model's card, from its training log and
a validation run (BSDS500 val, best annotator, r=1) with lnsnet's own evaluator.

    python scripts/model_card.py runs/shipped/train.jsonl --val-images 50 --train-seconds S
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

import lnsnet
from lnsnet.cli import model_summary
from lnsnet.eval.datasets import BSDS500
from lnsnet.eval.metrics import score

ROOT = Path(__file__).resolve().parents[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--val-images", type=int, default=50)
    ap.add_argument("--ks", default="100,400,1000")
    ap.add_argument("--train-seconds", type=float, default=None, help="wall time of the training run")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seeds", choices=("grid", "learned"), default="grid")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    recs = [json.loads(line) for line in open(args.log)]
    model = lnsnet.load_model()
    meta = json.loads((ROOT / "src/lnsnet/weights/bsds500.json").read_text())
    summ = model_summary(model)
    ds = BSDS500(split="val")
    n = min(args.val_images, len(ds))
    rows = []
    for k in [int(x) for x in args.ks.split(",")]:
        vals = {"asa": [], "br": [], "bp": [], "ue": [], "co": [], "k": [], "t": []}
        for i in range(n):
            s = ds[i]
            t0 = time.perf_counter()
            lab = lnsnet.segment(s.image, k, model=model, seeds=args.seeds)
            vals["t"].append(time.perf_counter() - t0)
            sc = score(lab, s.ground_truths)
            for key, name in (("asa", "asa_best"), ("br", "br_best"), ("bp", "bp_best"), ("ue", "ue_best"),
                              ("co", "co")):
                vals[key].append(sc[name])
            vals["k"].append(lab.max() + 1)
        rows.append((k, {key: (statistics.median(v) if key == "t" else float(np.mean(v))) for key, v in vals.items()}))
    losses = [r["loss"] for r in recs]
    card = f"""# Model card: `bsds500` (shipped default)

| | |
|---|---|
| file | `bsds500.pt` (sha256 `{meta['sha256']}`, checked on load) |
| architecture | LNS-Net, {summ['params_total']:,} parameters (FEM {summ['params_fem']:,}, SEL {summ['params_sel']:,}, reconstruction head {summ['params_reconstruction']:,}); config `{model.config.to_dict()}` |
| FLOPs at 481x321 | FEM {summ['flops_fem'] / 1e9:.3f} GFLOPs ({summ['flops_fem'] / 2e9:.3f} G multiply-adds), `torch.utils.flop_counter` |
| training data | BSDS500 `images/train`, {len(recs)} images in name order, no labels used; never val or test |
| recipe | `bash scripts/train_shipped_model.sh` = `lnsnet train $LNSNET_BSDS500/images/train -o runs/shipped/bsds500.pt --seed 0 --checkpoint-every 5` then export without optimiser state |
| schedule | 50 iterations per image (40 features with SEL frozen, 10 seeds with FEM frozen), one Adam (lr 3e-4) for the stream, beta 10, phi 1, n 9, Sobel contour prior, GBL `attenuate`, GAL m from ones with rate 0.5, K drawn from 100/200/400 per image |
| training time | {'%.0f min wall on 2 CPU cores (shared with other jobs)' % (args.train_seconds / 60) if args.train_seconds else 'see docs'}; {statistics.mean(losses[-20:]):.3f} mean loss over the last 20 images (first 20: {statistics.mean(losses[:20]):.3f}) |

## Scores on BSDS500 val (first {n} images, best annotator, r = 1, lnsnet evaluator)

Made by `python scripts/model_card.py {args.log} --val-images {args.val_images} --seeds {args.seeds}` (this file).

| K asked | k delivered | ASA | BR | BP | UE | CO | median time / image |
|---|---|---|---|---|---|---|---|
""" + "\n".join(
        f"| {k} | {v['k']:.1f} | {v['asa']:.4f} | {v['br']:.4f} | {v['bp']:.4f} | {v['ue']:.4f} | {v['co']:.4f} | {v['t'] * 1000:.0f} ms |"
        for k, v in rows
    ) + """

Times are for `lnsnet.segment` (decoded image in, connected labels out) with the CPU
threads given, on the machine that made this card. The paper-level comparison on the
test set, against the baselines, lives in `docs/benchmarks.md`.
"""
    (ROOT / "src/lnsnet/weights/bsds500.md").write_text(card)
    print(card)


if __name__ == "__main__":
    main()
