"""Cluster with a precomputed teacher map in place of the head's (or the head: --map head)."""
import argparse, json, sys
sys.path.insert(0, "scripts")
import numpy as np, torch, lnsnet
import lnsnet.inference as inf
from lnsnet.model.contour import contour_factor
from contour_grid_val import dataset, KS
from lnsnet.eval.metrics import score
ap = argparse.ArgumentParser(); ap.add_argument("--set"); ap.add_argument("--map"); ap.add_argument("--spec"); ap.add_argument("--log"); ap.add_argument("--model", default="bsds500")
a = ap.parse_args()
CUR = {}
orig = inf._contour_factors
def cf(net, colour, options, mask, dev):
    if a.map == "head" or options.contour <= 0:
        return orig(net, colour, options, mask, dev)
    b = torch.from_numpy(CUR["b"].astype(np.float32))[None]
    assert b.shape[-2:] == colour.shape[-2:]
    return contour_factor(b, options.contour, None)
inf._contour_factors = cf
torch.set_num_threads(1)
ds, n = dataset(a.set, "../shared/data"); n = n
sys.path.insert(0, "/tmp/tex"); import bighead, __main__; __main__.BigHead = bighead.BigHead
net = torch.load(a.model, weights_only=False) if a.model.endswith(".mod") else lnsnet.load_model(a.model)
res = {k: [] for k in KS}
for i in range(n):
    s = ds[i]
    if a.map != "head":
        CUR["b"] = np.load(f"/tmp/tex/maps/{a.set}_{i}.npz")[a.map]
    for k in KS:
        sc = score(lnsnet.segment(s.image, k, model=net, clustering=a.spec), s.ground_truths, s.image, ignore=getattr(ds, "ignore_label", None))
        res[k].append([sc["br_best"], sc["asa_best"], sc["co"], sc["n_segments"]])
rec = {"set": a.set, "map": a.map if a.model == "bsds500" else a.map + "@" + a.model.split("/")[-1], "spec": a.spec, **{f"{m}{k}": float(np.mean(np.array(res[k])[:, j])) for k in KS for j, m in enumerate(("br", "asa", "co", "k"))}}
open(a.log, "a").write(json.dumps(rec) + "\n"); print(json.dumps(rec), flush=True)
