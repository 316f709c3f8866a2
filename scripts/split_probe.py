"""Probe (issue 18): superpixels where the detail is. Segment at K0 = (1 - f) K, then split
the n = K - k0 superpixels with the most contour mass (the head's map B summed over their
pixels; for model="none" the clustering colour's gradient magnitude, hand-made) in two by
a 2-means on (colour, position), then the connectivity. Scored on val like
contour_grid_val.py (BR / ASA / CO / k at K = 100 / 400 / 1000), one line to --log."""
import argparse, json, sys
import numpy as np, torch
sys.path.insert(0, "scripts")
import lnsnet
import lnsnet.inference as inf
from lnsnet.connectivity import enforce_connectivity
from lnsnet.eval.metrics import score
from contour_grid_val import dataset, KS

CAP = {}
_orig = inf._contour_factors


def _capture(net, colour, options, mask, dev):
    CAP["colour"] = colour[0].detach().cpu().numpy().transpose(1, 2, 0).astype(np.float64)
    b = net.contours(colour.to(dev)) if getattr(net, "contour_head", None) is not None else None
    CAP["b"] = None if b is None else b[0, 0].detach().cpu().numpy().astype(np.float64)
    return _orig(net, colour, options, mask, dev)


inf._contour_factors = _capture


def split(labels, colour, energy, n, m):
    lab = labels.astype(np.int64)
    k = lab.max() + 1
    h, w = lab.shape
    flat = lab.ravel()
    mass = np.bincount(flat, weights=energy.ravel(), minlength=k)
    order = np.argsort(-mass)[:n]
    yy, xx = np.mgrid[0:h, 0:w]
    pos = np.stack([yy.ravel(), xx.ravel()], 1).astype(np.float64)
    col = colour.reshape(-1, colour.shape[-1])
    idx_sorted = np.argsort(flat, kind="stable")
    starts = np.searchsorted(flat[idx_sorted], np.arange(k + 1))
    out = flat.copy()
    nxt = k
    for s in order:
        ids = idx_sorted[starts[s]:starts[s + 1]]
        if ids.size < 8:
            continue
        p, c = pos[ids], col[ids]
        scale = np.sqrt(ids.size / 2.0)
        f = np.concatenate([c, p * (m / scale)], 1)
        mu = p.mean(0)
        pc = p - mu
        ev, vec = np.linalg.eigh(pc.T @ pc / ids.size)
        ax = vec[:, -1] * np.sqrt(ev[-1])
        a = (pc @ ax) > 0
        for _ in range(8):
            if a.all() or (~a).all():
                break
            c0, c1 = f[~a].mean(0), f[a].mean(0)
            a_new = ((f - c1) ** 2).sum(1) < ((f - c0) ** 2).sum(1)
            if (a_new == a).all():
                break
            a = a_new
        out[ids[a]] = nxt
        nxt += 1
    return out.reshape(h, w)


def gradient_energy(colour):
    gy = np.diff(colour, axis=0, append=colour[-1:])
    gx = np.diff(colour, axis=1, append=colour[:, -1:])
    return np.sqrt((gy ** 2 + gx ** 2).sum(-1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", default="bsds")
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--model", default="bsds500")
    ap.add_argument("--spec", default="fast")
    ap.add_argument("--f", type=float, default=0.0)
    ap.add_argument("--m", type=float, default=1.0)
    ap.add_argument("--energy", default="head", choices=("head", "grad", "head2"))
    ap.add_argument("--images", type=int, default=0)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    torch.set_num_threads(1)
    ds, n = dataset(a.set, a.data)
    n = a.images or n
    net = lnsnet.load_model(a.model)
    res = {k: [] for k in KS}
    for i in range(n):
        s = ds[i]
        for K in KS:
            k0 = max(1, int(round(K * (1 - a.f))))
            lab = lnsnet.segment(s.image, k0, model=net, clustering=a.spec, start_label=0)
            if a.f > 0:
                got = lab.max() + 1
                if a.energy == "grad" or CAP["b"] is None:
                    e = gradient_energy(CAP["colour"])
                elif a.energy == "head2":
                    e = CAP["b"] ** 2
                else:
                    e = CAP["b"]
                lab = split(lab, CAP["colour"], e, max(0, K - got), a.m)
                lab = enforce_connectivity(lab, CAP["colour"].astype(np.float32), n_segments=K)
            sc = score(lab, s.ground_truths, s.image, ignore=getattr(ds, "ignore_label", None))
            res[K].append([sc["br_best"], sc["asa_best"], sc["co"], sc["n_segments"]])
    rec = {"set": a.set, "model": a.model, "spec": a.spec, "f": a.f, "m": a.m, "energy": a.energy, "images": n,
           **{f"{m}{k}": float(np.mean(np.array(res[k])[:, j])) for k in KS for j, m in enumerate(("br", "asa", "co", "k"))}}
    with open(a.log, "a") as fh:
        fh.write(json.dumps(rec) + "\n")
    print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
