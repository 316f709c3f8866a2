"""segment(..., sigma=s) with the shipped model or model='none' at a compactness (probe)."""
import argparse, sys, numpy as np, torch, lnsnet
sys.path.insert(0, __import__("os").path.dirname(__file__))
from lnsnet.eval.metrics import score
from contour_probe_pb_dsets import DS
ap = argparse.ArgumentParser()
ap.add_argument("--sigma", type=float, default=0.0); ap.add_argument("--model", default="bsds500")
ap.add_argument("--c", type=float, default=26); ap.add_argument("--images", type=int, default=50)
ap.add_argument("--data", default="bsds"); ap.add_argument("--start", type=int, default=0)
a = ap.parse_args(); torch.set_num_threads(1)
ds = DS(a); res = {}
for i in range(a.start, a.images):
    s = ds[i]
    for k in (100, 400, 1000):
        lab = lnsnet.segment(s.image, k, model=a.model, clustering=f"compact:compactness={a.c}", sigma=a.sigma)
        sc = score(lab, s.ground_truths, s.image, ignore=getattr(ds, "ignore_label", None))
        res.setdefault(k, []).append([sc["n_segments"], sc["asa_best"], sc["br_best"], sc["ue_best"], sc["co"]])
print(a.data, a.model, a.sigma, a.c, " | ".join(f"K={k} k={np.mean(v,0)[0]:.0f} ASA={np.mean(v,0)[1]:.4f} BR={np.mean(v,0)[2]:.4f} CO={np.mean(v,0)[4]:.3f}" for k, v in res.items()), flush=True)
