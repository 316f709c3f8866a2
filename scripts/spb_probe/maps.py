"""Precompute teacher maps HD and HDT for the val images into /tmp/tex/maps/{set}_{i}.npz"""
import sys, os, numpy as np, torch
sys.path.insert(0, "scripts")
from contour_grid_val import dataset
from scipy import ndimage
from skimage.color import rgb2lab
from sklearn.cluster import KMeans
from lnsnet.features import _halfdisc_chi2, HALFDISC_BINS, HALFDISC_RANGES, HALFDISC_RADII, HALFDISC_ORIENTATIONS, _normalise01
torch.set_num_threads(1)

def bank(L):
    out = []
    for s in (1.0, 2.0):
        gx = ndimage.gaussian_filter(L, s, order=(0, 1)); gy = ndimage.gaussian_filter(L, s, order=(1, 0))
        gxx = ndimage.gaussian_filter(L, s, order=(0, 2)); gyy = ndimage.gaussian_filter(L, s, order=(2, 0)); gxy = ndimage.gaussian_filter(L, s, order=(1, 1))
        for o in range(6):
            th = np.pi * o / 6; c, sn = np.cos(th), np.sin(th)
            out.append(c * gx + sn * gy)
            out.append(c * c * gxx + 2 * c * sn * gxy + sn * sn * gyy)
        out.append(ndimage.gaussian_filter(L, s) - ndimage.gaussian_filter(L, 2 * s))
    return np.stack(out, -1)

def maps(rgb):
    lab = rgb2lab(np.asarray(rgb, dtype=np.float64))
    h, w = lab.shape[:2]
    total = torch.zeros(HALFDISC_ORIENTATIONS, h, w)
    for c, (lo, hi) in enumerate(HALFDISC_RANGES):
        q = np.clip(((lab[..., c] - lo) / (hi - lo) * HALFDISC_BINS).astype(np.int64), 0, HALFDISC_BINS - 1)
        if q.min() == q.max(): continue
        for r in HALFDISC_RADII:
            total += _halfdisc_chi2(q, r * (2 if c else 1))
    hd = _normalise01(total.max(0).values.numpy())
    f = bank(lab[..., 0] / 100.0).reshape(-1, 26)
    f = f / (f.std(0) + 1e-9)
    rng = np.random.default_rng(0)
    km = KMeans(32, n_init=1, random_state=0).fit(f[rng.choice(len(f), min(len(f), 10000), replace=False)])
    t = km.predict(f).reshape(h, w).astype(np.int64)
    tex = torch.zeros_like(total)
    for r in HALFDISC_RADII:
        tex += _halfdisc_chi2(t, r)
    hdt = _normalise01((total + tex).max(0).values.numpy())
    return hd, hdt

if __name__ == "__main__":
    os.makedirs("/tmp/tex/maps", exist_ok=True)
    s, part = sys.argv[1], int(sys.argv[2])
    ds, n = dataset(s, "../shared/data")
    n = n
    for i in range(part, n, 2):
        out = f"/tmp/tex/maps/{s}_{i}.npz"
        if os.path.exists(out): continue
        hd, hdt = maps(ds[i].image.astype(np.float64) / (255.0 if ds[i].image.dtype == np.uint8 else 1.0))
        np.savez_compressed(out, hd=hd.astype(np.float16), hdt=hdt.astype(np.float16))
        print(s, i, flush=True)
