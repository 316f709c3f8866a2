"""Probe (2026-12-05, issue 22): a hand-made 3-D contour map (half-ball mean differences, 13
directions, radii 2 and 4 physical units) weakening the 3-D clustering's spatial term as the
2-D contour head does; val only. Usage: python scripts/volume_contour_probe.py rows.jsonl"""
import sys, json, time
sys.path.insert(0, __import__("os").path.dirname(__file__))
import numpy as np
from scipy.signal import fftconvolve
import lnsnet, lnsnet.volume as V
from volumes import synthetic, nuclei, KS
from lnsnet.eval.volumes import score_volume

DIRS = [(1,0,0),(0,1,0),(0,0,1),(1,1,0),(1,-1,0),(1,0,1),(1,0,-1),(0,1,1),(0,1,-1),(1,1,1),(1,1,-1),(1,-1,1),(1,-1,-1)]

def halfball(f, spacing, radii=(2.0, 4.0)):
    """f (Z,Y,X,C) standardised. Max over 13 directions of sum over channels/radii of |mean+ - mean-|."""
    best = None
    total = np.zeros((len(DIRS),) + f.shape[:3], np.float32)
    for r in radii:
        n = [int(np.ceil(r / s)) for s in spacing]
        zz, yy, xx = np.meshgrid(*[np.arange(-m, m + 1) * s for m, s in zip(n, spacing)], indexing="ij")
        ball = zz**2 + yy**2 + xx**2 <= r * r
        for di, d in enumerate(DIRS):
            d = np.array(d, float); d /= np.linalg.norm(d)
            proj = zz * d[0] + yy * d[1] + xx * d[2]
            pos = ball & (proj > 1e-9); neg = ball & (proj < -1e-9)
            k = pos / pos.sum() - neg / neg.sum()
            for c in range(f.shape[3]):
                total[di] += np.abs(fftconvolve(f[..., c], k[::-1, ::-1, ::-1], mode="same")).astype(np.float32)
    m = total.max(0)
    p = np.percentile(m, 99)
    return np.clip(m / max(p, 1e-12), 0, 1).astype(np.float32)

CUR = {}
orig = V.edge_weights_3d
def patched(f, edge_scale):
    w = orig(f, edge_scale)
    s = CUR.get("s", 0)
    if s > 0:
        fac = np.exp(-s * CUR["B"]); fac /= fac.mean()
        w = (w * fac).astype(np.float32)
    return w
V.edge_weights_3d = patched

vols = [(f"syn{i}", *synthetic(i)) for i in range(3)] + [(f"nuc{i}", *nuclei(i)) for i in (10, 11)]
out = open(sys.argv[1], "a")
for name, vol, gt, sp in vols:
    t = time.time()
    f = V._features(V._as_volume(vol, None), None)
    CUR["B"] = halfball(f, sp)
    print(name, "teacher", round(time.time() - t, 1), "s", flush=True)
    for s in (0, 2, 4, 6):
        CUR["s"] = s
        for c in (40, 60, 80, 120, 160, 240):
            if s == 0 and c != 40: continue
            for K in KS:
                lab = lnsnet.segment(vol, K, channel_axis=None, spacing=sp, compactness=c)
                r = score_volume(lab, gt, volume=vol, spacing=sp)
                out.write(json.dumps({"vol": name, "s": s, "c": c, "K": K, **{k: float(v) for k, v in r.items()}}) + "\n"); out.flush()
        print(name, s, "done", flush=True)
