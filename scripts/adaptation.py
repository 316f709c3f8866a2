"""What online adaptation (`segment(..., adapt=n)`) gains and costs, on BSDS500.

    LNSNET_BSDS500=... python scripts/adaptation.py --split val --images 20 --adapt 0,10,30 --k 100,400 [--lr 3e-4] \
        [--clustering compact|fast|paper]

For each image, K and n: segment with the shipped model adapted for n iterations on the
image itself, score against the best annotator (r=1) and time the whole call (adaptation
included). Prints a Markdown table of the means (and the change against n=0). Tune on
val, report on test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=os.environ.get("LNSNET_BSDS500"))
    ap.add_argument("--split", default="val")
    ap.add_argument("--dataset", default="bsds500",
                    help="'bsds500' or a folder with images/ and labels/ (as lnsnet benchmark --dataset)")
    ap.add_argument("--images-list", default=None, help="folder datasets: a file of image stems (a split)")
    ap.add_argument("--ignore-label", type=int, default=None, help="folder datasets: the label meaning unknown")
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--adapt", default="0,10,30")
    ap.add_argument("--k", default="100,400")
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", default=None, help="model name or file (default: the shipped model)")
    ap.add_argument("--clustering", choices=("compact", "fast", "paper"), default="paper",
                    help="segment's clustering preset (default 'paper', with which the first numbers were made); "
                         "with 'fast' the adaptation trains the contour head (as segment(..., adapt=n) does)")
    args = ap.parse_args(argv)

    import numba
    import torch

    torch.set_num_threads(args.threads)
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    import lnsnet
    from lnsnet.eval.benchmark import open_dataset
    from lnsnet.eval.metrics import score
    from lnsnet.train import adapt_model
    from lnsnet.io import to_float_rgb

    lr = args.lr  # None: adapt_model's default (ADAPT_LR; the training's contour_lr for the head)
    ds = open_dataset(args.dataset, split=args.split, root=args.root, images_list=args.images_list,
                      ignore_label=args.ignore_label)
    n = min(args.images, len(ds))
    model = lnsnet.load_model(args.model)
    ns = [int(v) for v in args.adapt.split(",")]
    ks = [int(v) for v in args.k.split(",")]
    res = {}
    for i in range(n):
        s = ds[i]
        for k in ks:
            for a in ns:
                t0 = time.perf_counter()
                tuned = (adapt_model(model, to_float_rgb(s.image), k, a, lr, contours=args.clustering == "fast")
                         if a else model)
                lab = lnsnet.segment(s.image, k, model=tuned, clustering=args.clustering)
                dt = time.perf_counter() - t0
                sc = score(lab, s.ground_truths, image=s.image, r=1, ignore=args.ignore_label)
                res.setdefault((k, a), []).append((sc["asa_best"], sc["br_best"], sc["ue_best"], sc["co"], sc["n_segments"], dt))
        print(f"image {i + 1}/{n} done", flush=True)
    where = f"BSDS500 {args.split}" if str(args.dataset).lower() == "bsds500" else f"{args.dataset}"
    print(f"\n{where}, first {n} images, {args.clustering} clustering, best annotator, r=1, adapt_lr={'default' if lr is None else f'{lr:g}'}, "
          f"{args.threads} threads; time = the whole segment call (median)\n")
    print("| K | adapt n | k delivered | ASA | BR | UE | CO | time (s) | dASA | dBR |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for k in ks:
        base = res[(k, ns[0])]
        for a in ns:
            r = res[(k, a)]
            m = [statistics.fmean(v[j] for v in r) for j in range(5)]
            b = [statistics.fmean(v[j] for v in base) for j in range(2)]
            t = statistics.median(v[5] for v in r)
            print(f"| {k} | {a} | {m[4]:.1f} | {m[0]:.4f} | {m[1]:.4f} | {m[2]:.4f} | {m[3]:.4f} | {t:.2f} | "
                  f"{m[0] - b[0]:+.4f} | {m[1] - b[1]:+.4f} |")


if __name__ == "__main__":
    main()
