"""Pb's global part (sPb) from a local contour map: intervening-contour affinity at half
size, the 12 leading generalised eigenvectors, their gradient magnitudes weighted 1/sqrt(lambda)."""
import sys, os, time, numpy as np
from scipy import sparse, ndimage
from scipy.sparse.linalg import eigsh
sys.path.insert(0, "/work/main/src")
from lnsnet.features import _normalise01

def spb(b, r=3, rho=0.1, nvec=12):
    h, w = b.shape
    h2, w2 = h // 2 * 2, w // 2 * 2
    bh = b[:h2, :w2].reshape(h2 // 2, 2, w2 // 2, 2).max((1, 3)).astype(np.float64)
    H, W = bh.shape
    idx = np.arange(H * W).reshape(H, W)
    rows, cols, vals = [], [], []
    for dy in range(0, r + 1):
        for dx in range(-r, r + 1):
            if dy == 0 and dx <= 0: continue
            if dy * dy + dx * dx > r * r: continue
            y0, y1 = 0, H - dy
            x0, x1 = max(0, -dx), min(W, W - dx)
            m = np.zeros((y1 - y0, x1 - x0))
            steps = max(abs(dy), abs(dx))
            for t in range(0, steps + 1):
                oy = int(round(dy * t / steps)); ox = int(round(dx * t / steps))
                m = np.maximum(m, bh[y0 + oy:y1 + oy, x0 + ox:x1 + ox])
            a = np.exp(-m / rho)
            rows.append(idx[y0:y1, x0:x1].ravel()); cols.append(idx[y0 + dy:y1 + dy, x0 + dx:x1 + dx].ravel()); vals.append(a.ravel())
    rr = np.concatenate(rows); cc = np.concatenate(cols); vv = np.concatenate(vals)
    Wm = sparse.coo_matrix((np.concatenate([vv, vv]), (np.concatenate([rr, cc]), np.concatenate([cc, rr]))), shape=(H * W, H * W)).tocsr()
    d = np.asarray(Wm.sum(1)).ravel() + 1e-12
    dm = sparse.diags(1.0 / np.sqrt(d))
    A = dm @ Wm @ dm
    # smallest of I - A  <=>  shift-invert near 0 of L = I - A
    L = (sparse.identity(H * W) - A).tocsc()
    lam, u = eigsh(L, k=nvec + 1, sigma=-1e-6, which="LM")
    order = np.argsort(lam); lam = lam[order]; u = u[:, order]
    out = np.zeros((H, W))
    for j in range(1, nvec + 1):
        v = (u[:, j] / np.sqrt(d)).reshape(H, W)
        v = (v - v.min()) / (v.max() - v.min() + 1e-12)
        g = np.hypot(ndimage.sobel(v, 0), ndimage.sobel(v, 1))
        out += g / np.sqrt(max(lam[j], 1e-9))
    full = np.zeros((h, w))
    up = ndimage.zoom(out, 2, order=1)
    full[:up.shape[0], :up.shape[1]] = up[:h, :w]
    if h2 < h: full[h2:] = full[h2 - 1]
    if w2 < w: full[:, w2:] = full[:, w2 - 1:w2]
    return _normalise01(full)

if __name__ == "__main__":
    sys.path.insert(0, "/work/main/scripts")
    s, part, nparts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    for i in range(part, 65, nparts):
        f = f"/tmp/tex/maps/{s}_{i}.npz"
        if not os.path.exists(f): continue
        z = dict(np.load(f))
        if "spb" in z: continue
        t = time.time()
        sp = spb(z["hdt"].astype(np.float64))
        z["spb"] = sp.astype(np.float16)
        z["g"] = _normalise01(z["hdt"].astype(np.float32) + sp).astype(np.float16)
        np.savez_compressed(f, **z)
        print(s, i, "%.1fs" % (time.time() - t), flush=True)
