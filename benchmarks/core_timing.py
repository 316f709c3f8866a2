"""Inference and training time per image on BSDS500, with skimage SLIC as the baseline.

    python benchmarks/core_timing.py [--images 20] [--threads 2] [--train]

Prints medians over the first N test images (481x321 or 321x481), after one warm-up
call, for lnsnet.segment (decoded image in, connected labels out) and
skimage.segmentation.slic at the same K, and their ratio. With --train, also the time to
train the shipped model's recipe (50 iterations) on one train image.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from _common import add_root  # benchmarks/_common.py, beside this file


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_root(ap)
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--k", default="100,1000")
    ap.add_argument("--train", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    import lnsnet
    from lnsnet.io import read_image
    from skimage.segmentation import slic

    files = sorted((Path(args.root) / "images" / "test").glob("*.jpg"))[: args.images]
    if not files:
        sys.exit(f"no BSDS500 test images under {args.root}")
    images = [read_image(f) for f in files]
    model = lnsnet.load_model()
    print(f"lnsnet {lnsnet.__version__}, torch {torch.__version__}, {args.threads} threads, "
          f"{len(images)} BSDS500 test images")
    print(f"{'K':>6} {'lnsnet ms':>10} {'k delivered':>12} {'slic ms':>9} {'slic k':>7} {'ratio':>6}")
    for k in [int(x) for x in args.k.split(",")]:
        lnsnet.segment(images[0], k, model=model)
        slic(images[0], k, start_label=0)
        t_l, t_s, k_l, k_s = [], [], [], []
        for im in images:
            t0 = time.perf_counter()
            lab = lnsnet.segment(im, k, model=model)
            t_l.append(time.perf_counter() - t0)
            k_l.append(lab.max() + 1)
            t0 = time.perf_counter()
            s = slic(im, k, start_label=0)
            t_s.append(time.perf_counter() - t0)
            k_s.append(s.max() + 1)
        ml, ms = statistics.median(t_l) * 1e3, statistics.median(t_s) * 1e3
        print(f"{k:>6} {ml:>10.1f} {np.mean(k_l):>12.1f} {ms:>9.1f} {np.mean(k_s):>7.1f} {ml / ms:>6.2f}")
    if args.train:
        from lnsnet.features import contour_prior
        from lnsnet.io import to_float_rgb
        from lnsnet.train import TrainConfig, new_model, train_image

        rgb = to_float_rgb(read_image(sorted((Path(args.root) / "images" / "train").glob("*.jpg"))[0]))
        net = new_model(0)
        opt = torch.optim.Adam(net.parameters(), lr=3e-4)
        cfg = TrainConfig()
        times = []
        for k in (100, 200, 400):
            t0 = time.perf_counter()
            train_image(net, opt, rgb, contour_prior(rgb), k, cfg)
            times.append(time.perf_counter() - t0)
        print(f"training, 50 iterations on one {rgb.shape[0]}x{rgb.shape[1]} image: "
              + ", ".join(f"K={k}: {t:.1f} s" for k, t in zip((100, 200, 400), times)))


if __name__ == "__main__":
    main()
