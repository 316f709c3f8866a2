"""Intervening-contour probe (issue 18): the head's contour map B as a barrier in the
compact clustering's distance: d(p, s) += gamma * median(best) * max_{q on [p, s]} B(q)^2.
Same sets and log format as scripts/contour_grid_val.py (2026-12-05; finding in docs/learning.md).
Usage: python scripts/intervening_contour_probe.py --set bsds|sbd|dsb --spec compact --gamma 2 --log L"""
import argparse, json, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numba as nb, numpy as np, torch
import lnsnet
from lnsnet.cluster import kernels
import lnsnet.inference as inf
from contour_grid_val import dataset, KS
from lnsnet.eval.metrics import score

STATE = {"B": None, "gamma": 0.0, "steps": 8, "power": 2}
orig_assign = kernels.local_assign
orig_cf = inf._contour_factors

def cf(net, colour, options, mask, dev):
    with torch.inference_mode():
        STATE["B"] = net.contours(colour.to(dev))[0, 0].float().cpu().numpy() if getattr(net, "contour_head", None) is not None else None
    return orig_cf(net, colour, options, mask, dev)
inf._contour_factors = cf

@nb.njit(parallel=True, cache=True)
def _penalise(d, B, pr, pc, rows, cols, pos, y0, win, pen, steps, power):
    h, w, M = d.shape
    p = win // 2
    H, W = B.shape
    for y in nb.prange(h):
        gy = y0 + y
        for x in range(w):
            for m in range(M):
                if not np.isfinite(d[y, x, m]):
                    continue
                r = pr[y] + m // win - p
                c = pc[x] + m % win - p
                if r < 0 or r >= rows or c < 0 or c >= cols:
                    continue
                s = r * cols + c
                sy, sx = pos[s, 0], pos[s, 1]
                mx = 0.0
                for i in range(1, steps + 1):
                    t = i / (steps + 1)
                    qy = int(round(gy + t * (sy - gy)))
                    qx = int(round(x + t * (sx - x)))
                    qy = min(max(qy, 0), H - 1)
                    qx = min(max(qx, 0), W - 1)
                    v = B[qy, qx]
                    if v > mx:
                        mx = v
                d[y, x, m] += pen * mx ** power

def assign(z, seed_feats, rows, cols, pr, pc, seed_pos=None, weight=0.0, y0=0, window=3, weight_map=None,
           return_best=False, channels_last=False, return_dists=False, spacing=(1.0, 1.0)):
    B = STATE["B"]
    if B is None or STATE["gamma"] <= 0 or seed_pos is None:
        return orig_assign(z, seed_feats, rows, cols, pr, pc, seed_pos, weight, y0, window, weight_map, return_best,
                           channels_last, return_dists, spacing)
    lab, best, d = orig_assign(z, seed_feats, rows, cols, pr, pc, seed_pos, weight, y0, window, weight_map, True,
                               channels_last, True, spacing)
    pen = STATE["gamma"] * float(np.median(best))
    _penalise(d, B, np.asarray(pr, np.int64), np.asarray(pc, np.int64), int(rows), int(cols),
              np.asarray(seed_pos, np.float32), int(y0), int(window), np.float32(pen), STATE["steps"], STATE["power"])
    m = d.argmin(2)
    best = np.take_along_axis(d, m[..., None], 2)[..., 0].astype(np.float32)
    p = window // 2
    r = np.asarray(pr, np.int64)[:, None] + m // window - p
    c = np.asarray(pc, np.int64)[None, :] + m % window - p
    lab = (r * cols + c).astype(np.int32)
    ret = (lab,) + ((best,) if return_best else ()) + ((d,) if return_dists else ())
    return ret if len(ret) > 1 else lab
kernels.local_assign = assign

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--set"); ap.add_argument("--spec"); ap.add_argument("--gamma", type=float)
    ap.add_argument("--power", type=int, default=2); ap.add_argument("--n", type=int, default=0)
    ap.add_argument("--log"); ap.add_argument("--data", default="/work/shared/data")
    a = ap.parse_args()
    STATE["gamma"], STATE["power"] = a.gamma, a.power
    torch.set_num_threads(1)
    ds, n = dataset(a.set, a.data)
    n = a.n or n
    net = lnsnet.load_model("bsds500")
    res = {k: [] for k in KS}
    for i in range(n):
        s = ds[i]
        for k in KS:
            sc = score(lnsnet.segment(s.image, k, model=net, clustering=a.spec), s.ground_truths, s.image,
                       ignore=getattr(ds, "ignore_label", None))
            res[k].append([sc["br_best"], sc["asa_best"], sc["co"], sc["n_segments"]])
    rec = {"set": a.set, "model": "bsds500", "spec": a.spec, "gamma": a.gamma, "power": a.power, "n": n,
           **{f"{m}{k}": float(np.mean(np.array(res[k])[:, j])) for k in KS for j, m in enumerate(("br", "asa", "co", "k"))}}
    with open(a.log, "a") as fh:
        fh.write(json.dumps(rec) + "\n")
    print(json.dumps(rec), flush=True)
main()
