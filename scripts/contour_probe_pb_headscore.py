"""Score the distilled head's map in the spatial term on BSDS500 val (appends to results.txt)."""
import argparse, sys, numpy as np, torch, lnsnet
sys.path.insert(0, __import__("os").path.dirname(__file__))
import lnsnet.cluster.local as L
from lnsnet.eval.datasets import BSDS500
from lnsnet.eval.metrics import score
from contour_probe_pb_dsets import DS
ap = argparse.ArgumentParser()
ap.add_argument("head"); ap.add_argument("--s", type=float, default=4.0)
ap.add_argument("--spec", default="compact:compactness=56"); ap.add_argument("--images", type=int, default=50)
ap.add_argument("--model", default="none")
ap.add_argument("--data", default="bsds")
ap.add_argument("--start", type=int, default=0)
a = ap.parse_args()
sys.argv = [sys.argv[0], "-o", "x"] + (["--feats"] if torch.load(a.head)["feats"] else [])
import contour_probe_pb_distill as D
torch.set_num_threads(1)
ck = torch.load(a.head); head = D.Head(ck["cin"], ck["width"], ck["half"]); head.load_state_dict(ck["state"]); head.eval()
D.a.feats = ck["feats"]
orig = L.edge_weights; state = {}
L.edge_weights = lambda image, es: (orig(image, es) * np.exp(-a.s * state["B"])).astype(np.float32)
ds = DS(a); res = {}
for i in range(a.start, a.images):
    s = ds[i]
    with torch.no_grad(): state["B"] = head(D.inputs(s.image))[0, 0].numpy()
    for k in (100, 400, 1000):
        sc = score(lnsnet.segment(s.image, k, model=a.model, clustering=a.spec), s.ground_truths, s.image, ignore=getattr(ds, 'ignore_label', None))
        res.setdefault(k, []).append([sc["n_segments"], sc["asa_best"], sc["br_best"], sc["ue_best"], sc["co"]])
tag = f"{a.data}{a.start or ''} " + f"head {a.head} s={a.s} {a.spec} model={a.model}"
line = tag + " | " + " | ".join(f"K={k} k={np.mean(v,0)[0]:.0f} ASA={np.mean(v,0)[1]:.4f} BR={np.mean(v,0)[2]:.4f} CO={np.mean(v,0)[4]:.3f}" for k, v in res.items())
print(line, flush=True); open("/tmp/probe/results.txt", "a").write(line + "\n")
