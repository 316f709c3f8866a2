"""Probe (2026-12-05): the merges' colour on noisy photos. BSDS500 val (first N), Gaussian
noise of sd SIGMA added to the RGB in [0, 1] (clipped; one seed per image), the default and
`fast` at K = 100 / 400; one JSON line of mean BR / ASA / CO per preset and K.

    PYTHONPATH=WORKTREE/src python scripts/noisy_probe/run.py --sigma 0.05 --log L --tag before
"""
import argparse, json, os
import numpy as np, torch
import lnsnet
from lnsnet.eval.datasets import BSDS500
from lnsnet.eval.metrics import score

ap = argparse.ArgumentParser()
ap.add_argument("--sigma", type=float, default=0.05)
ap.add_argument("--images", type=int, default=30)
ap.add_argument("--log", required=True)
ap.add_argument("--tag", required=True)
ap.add_argument("--root", default=os.environ.get("LNSNET_BSDS500", "../shared/data/bsds500"))
a = ap.parse_args()
torch.set_num_threads(1)
ds = BSDS500(a.root, split="val")
net = lnsnet.load_model()
res = {}
for i in range(a.images):
    s = ds[i]
    rgb = s.image.astype(np.float32) / 255.0
    noisy = np.clip(rgb + np.random.default_rng(i).normal(0, a.sigma, rgb.shape), 0, 1).astype(np.float32)
    for spec in ("compact", "fast"):
        for k in (100, 400):
            sc = score(lnsnet.segment(noisy, k, model=net, clustering=spec), s.ground_truths, s.image)
            res.setdefault((spec, k), []).append([sc["br_best"], sc["asa_best"], sc["co"]])
with open(a.log, "a") as fh:
    for (spec, k), v in res.items():
        m = np.mean(v, 0)
        fh.write(json.dumps({"tag": a.tag, "sigma": a.sigma, "spec": spec, "k": k, "br": m[0], "asa": m[1], "co": m[2]}) + "\n")
print("done", a.tag)
