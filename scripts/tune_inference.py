"""Choose inference defaults (compactness, fragment merging) on BSDS500 *val*, never test.

    LNSNET_BSDS500=... python scripts/tune_inference.py --images 20 --model bsds500

Prints, per setting and K, mean ASA/BR/CO (best annotator, r=1) and the delivered k.
"""

import argparse
import itertools
import time

import numpy as np
import torch

import lnsnet
from lnsnet.eval.datasets import BSDS500
from lnsnet.eval.metrics import score

# the paper's one-shot clustering: the documented numbers of this script were measured with it
from lnsnet.segment import PAPER_CLUSTERING as PAPER  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--model", default="bsds500")
    ap.add_argument("--ks", default="100,400,1000")
    ap.add_argument("--compactness", default="0,0.1,0.3")
    ap.add_argument("--min-size", default="0.25")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ds = BSDS500(split="val")
    samples = [ds[i] for i in range(min(args.images, len(ds)))]
    model = lnsnet.load_model(args.model)
    print("| compactness | min_size_factor | K | k delivered | ASA | BR | BP | CO | ms/img |")
    print("|---|---|---|---|---|---|---|---|---|")
    for c, msf in itertools.product([float(x) for x in args.compactness.split(",")],
                                    [float(x) for x in args.min_size.split(",")]):
        for k in [int(x) for x in args.ks.split(",")]:
            acc = []
            for s in samples:
                t0 = time.perf_counter()
                lab = lnsnet.segment(s.image, k, model=model, min_size_factor=msf, **{**PAPER, "compactness": c})
                dt = time.perf_counter() - t0
                sc = score(lab, s.ground_truths)
                acc.append((lab.max() + 1, sc["asa_best"], sc["br_best"], sc["bp_best"], sc["co"], dt))
            a = np.array(acc, dtype=float)
            m = a.mean(0)
            print(f"| {c} | {msf} | {k} | {m[0]:.1f} | {m[1]:.4f} | {m[2]:.4f} | {m[3]:.4f} | {m[4]:.4f} | "
                  f"{np.median(a[:, 5]) * 1000:.0f} |", flush=True)


if __name__ == "__main__":
    main()
