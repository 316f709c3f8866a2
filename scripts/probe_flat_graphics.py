"""Probe (2026-12-06): superpixels on flat synthetic graphics (piecewise-constant colour
discs and rectangles on a coloured background, no noise): how often a superpixel crosses
a region border, lnsnet's default against its blur and compactness and scikit-image's slic.

    python scripts/probe_flat_graphics.py        # 8 scenes of 240 x 320, K = 100 / 400 / 1000
"""
import numpy as np
from skimage.draw import disk, rectangle
from skimage.segmentation import slic

import lnsnet


def scene(h=240, w=320, n=25, seed=0):
    r = np.random.default_rng(seed)
    img, gt = np.zeros((h, w, 3)), np.zeros((h, w), int)
    img[:] = r.random(3)
    for i in range(1, n + 1):
        col = r.random(3)
        if r.random() < 0.5:
            rr, cc = disk((r.integers(0, h), r.integers(0, w)), r.integers(8, 50), shape=(h, w))
        else:
            y, x = r.integers(0, h - 10), r.integers(0, w - 10)
            rr, cc = rectangle((y, x), extent=(r.integers(5, 80), r.integers(5, 80)), shape=(h, w))
        img[rr, cc], gt[rr, cc] = col, i
    return (img * 255).astype(np.uint8), gt


def asa(lab, gt):
    return sum(np.bincount(gt[lab == l]).max() for l in np.unique(lab)) / lab.size


def crossing(lab, gt):
    return sum(len(np.unique(gt[lab == l])) > 1 for l in np.unique(lab))


SETTINGS = {"default (fast)": {}, "blur 0": dict(clustering="fast:blur=0"),
            "blur 0, compactness 16": dict(clustering="fast:blur=0", compactness=16),
            "blur 0, contour 0": dict(clustering="fast:blur=0:contour=0")}
if __name__ == "__main__":
    print("| K | method | ASA | superpixels crossing a border |\n|---|---|---|---|")
    for k in (100, 400, 1000):
        runs = {name: (lambda im, kw=kw: lnsnet.segment(im, k, **kw)) for name, kw in SETTINGS.items()}
        runs["slic (default)"] = lambda im: slic(im, k, start_label=1)
        for name, run in runs.items():
            scores = []
            for im, gt in (scene(seed=s) for s in range(8)):
                lab = run(im)
                scores.append((asa(lab, gt), crossing(lab, gt)))
            print(f"| {k} | {name} | {np.mean([a for a, _ in scores]):.4f} | {np.mean([c for _, c in scores]):.1f} |")
