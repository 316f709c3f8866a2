"""Probe: the local clustering window (3x3 cells, the default, against 5x5 and 7x7) on
BSDS500 *val*, to see how much of dense clustering's gain a wider fixed window recovers.

    LNSNET_BSDS500=... python scripts/window_probe.py --images 50 --ks 100,400,1000 --windows 3,5,7

Uses the torch reference of the local assignment (``lnsnet.model.cluster.local_labels``,
any odd window) with the shipped model and grid seeds, then the package's connectivity
step with segment's defaults. Prints mean k, ASA, BR, UE, CO (best annotator, r=1).
"""

import argparse

import numpy as np
import torch

from lnsnet.connectivity import enforce_connectivity
from lnsnet.eval.datasets import BSDS500
from lnsnet.eval.metrics import score
from lnsnet.features import encode
from lnsnet.grid import make_grid
from lnsnet.io import to_float_rgb
from lnsnet.model.cluster import local_labels
from lnsnet.segment import load_model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=50)
    ap.add_argument("--ks", default="100,400,1000")
    ap.add_argument("--windows", default="3,5,7")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    net = load_model()
    ds = BSDS500(split="val")
    samples = [ds[i] for i in range(min(args.images, len(ds)))]
    print("| window | K | k | ASA | BR | UE | CO |\n|---|---|---|---|---|---|---|")
    for k in [int(v) for v in args.ks.split(",")]:
        for win in [int(v) for v in args.windows.split(",")]:
            acc = []
            for s in samples:
                rgb = to_float_rgb(s.image)
                grid = make_grid(*rgb.shape[:2], k)
                x = encode(rgb)
                with torch.inference_mode():
                    z = net.embed(x)
                    pos = grid.centres("cpu", z.dtype)[None]
                    raw = local_labels(z[0], net.seed_features(z, pos)[0], grid, win).numpy()
                lab = enforce_connectivity(raw, x[0, :3].permute(1, 2, 0).numpy(), n_segments=grid.n_seeds,
                                           min_size_factor=0.25, max_segments=int(round(grid.n_seeds * 1.1)))
                sc = score(lab, s.ground_truths)
                acc.append((lab.max() + 1, sc["asa_best"], sc["br_best"], sc["ue_best"], sc["co"]))
            m = np.mean(acc, 0)
            print(f"| {win}x{win} | {k} | {m[0]:.1f} | {m[1]:.4f} | {m[2]:.4f} | {m[3]:.4f} | {m[4]:.4f} |", flush=True)


if __name__ == "__main__":
    main()
