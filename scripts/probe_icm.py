"""Raster-order ICM on a contrast-sensitive Potts energy, shared by the probe scripts
(``compactness_probe.py``, ``kmeans_probe.py``); the package's own smoothing is
``lnsnet._kernels.potts_sweep`` (checkerboard order)."""
import numba
import numpy as np


@numba.njit(cache=True)
def icm(d, cand, lab, lab_img, lam, beta, sweeps, conn8):
    # d (9,H,W) distances, cand (9,H,W) seed ids, lab (H,W) current seed ids, lab_img (3,H,W)
    nine, H, W = d.shape
    if conn8:
        dys = np.array([-1,1,0,0,-1,-1,1,1]); dxs = np.array([0,0,-1,1,-1,1,-1,1]); wts=np.array([1,1,1,1,0.7071,0.7071,0.7071,0.7071])
    else:
        dys = np.array([-1,1,0,0]); dxs = np.array([0,0,-1,1]); wts=np.array([1.,1.,1.,1.])
    nn = dys.shape[0]
    wq = np.zeros((nn, H, W))
    for y in range(H):
        for x in range(W):
            for j in range(nn):
                yy = y+dys[j]; xx = x+dxs[j]
                if 0<=yy<H and 0<=xx<W:
                    s=0.0
                    for c in range(3):
                        t = lab_img[c,y,x]-lab_img[c,yy,xx]; s+=t*t
                    wq[j,y,x] = wts[j]*np.exp(-beta*s)
    for it in range(sweeps):
        for y in range(H):
            for x in range(W):
                best = 1e30; arg = lab[y,x]
                for m in range(nine):
                    s = cand[m,y,x]
                    if s < 0: continue
                    e = d[m,y,x]
                    for j in range(nn):
                        yy=y+dys[j]; xx=x+dxs[j]
                        if 0<=yy<H and 0<=xx<W and lab[yy,xx]!=s:
                            e += lam*wq[j,y,x]
                    if e < best:
                        best = e; arg = s
                lab[y,x] = arg
    return lab
