"""The default with the contour strength set per image from the head's map:
strength = contour * (M0 / mean(B)) ** P  (P = 0: today's default)."""
import argparse, json, sys
sys.path.insert(0, "scripts")
import numpy as np, torch, lnsnet
import lnsnet.inference as inf
from lnsnet.model.contour import contour_factor
from contour_grid_val import dataset, KS
from lnsnet.eval.metrics import score
ap = argparse.ArgumentParser(); ap.add_argument("--set"); ap.add_argument("--spec", default="compact")
ap.add_argument("--m0", type=float, default=0.1); ap.add_argument("--p", type=float, default=1.0); ap.add_argument("--log")
ap.add_argument("--stats", action="store_true")
a = ap.parse_args()
MEANS = []
def cf(net, colour, options, mask, dev):
    if options.contour <= 0 or options.compactness <= 0 or net.contour_head is None:
        return None
    b = net.contours(colour.to(dev))[:, 0]
    m = float(b.mean())
    MEANS.append(m)
    s = options.contour * (a.m0 / max(m, 1e-6)) ** a.p
    return contour_factor(b, s, None)
inf._contour_factors = cf
torch.set_num_threads(1)
ds, n = dataset(a.set, "../shared/data")
net = lnsnet.load_model("bsds500")
if a.stats:
    for i in range(n):
        lnsnet.segment(ds[i].image, 100, model=net, clustering=a.spec)
    print(a.set, "mean B: median %.4f p10 %.4f p90 %.4f" % tuple(np.percentile(MEANS, [50, 10, 90]))); sys.exit()
res = {k: [] for k in KS}
for i in range(n):
    s = ds[i]
    for k in KS:
        sc = score(lnsnet.segment(s.image, k, model=net, clustering=a.spec), s.ground_truths, s.image, ignore=getattr(ds, "ignore_label", None))
        res[k].append([sc["br_best"], sc["asa_best"], sc["co"], sc["n_segments"]])
rec = {"set": a.set, "map": f"norm m0={a.m0} p={a.p}", "spec": a.spec, **{f"{m}{k}": float(np.mean(np.array(res[k])[:, j])) for k in KS for j, m in enumerate(("br", "asa", "co", "k"))}}
open(a.log, "a").write(json.dumps(rec) + "\n"); print(json.dumps(rec), flush=True)
