"""Probe inference-time shape priors on BSDS500 *val* (what was tried for the compactness
target of the "reproduce and beat" issue; not part of the package).

    LNSNET_BSDS500=... python scripts/compactness_probe.py 20 100,1000 0:0:0:8 0:3:3:8 0.3:1:3:8

Each spec ``c:lam:sweeps:conn`` runs the shipped model with grid seeds, the spatial weight
``c`` of ``segment(compactness=c)``, then ``sweeps`` rounds of ICM on a contrast-sensitive
Potts energy: distance to the candidate seed (normalised by the image's median best
distance) + ``lam`` x sum over the ``conn``-neighbours with another label of
``exp(-beta |dI|^2)`` (beta = 1 / (2 mean |dI|^2), standardised LAB). ``lam = 0`` is the
plain argmin. Prints mean k, ASA, BR, UE, CO over the first N val images (best annotator, r=1).
"""
import os, sys, time, numpy as np, torch
import lnsnet
from lnsnet.segment import _resolve
from lnsnet.features import encode
from lnsnet.grid import make_grid
from lnsnet.model.cluster import local_distances
from lnsnet.connectivity import enforce_connectivity
from lnsnet.eval.datasets import BSDS500
from lnsnet.eval.metrics import score
torch.set_num_threads(1)
ds = BSDS500(split="val")
N = int(sys.argv[1])
samples = [ds[i] for i in range(N)]
net = _resolve(os.environ.get("LNSNET_MODEL"), torch.device("cpu"))  # LNSNET_MODEL: a model file

from probe_icm import icm  # noqa: E402 (scripts/ is on sys.path when run as a script)


def seg(rgb, k, c, lam, sweeps, conn8):
    h,w = rgb.shape[:2]; grid = make_grid(h,w,k)
    x = encode(lnsnet.io.to_float_rgb(rgb))
    with torch.inference_mode():
        z = net.embed(x); pos = grid.centres('cpu', z.dtype)[None]
        feats = net.seed_features(z, pos)
        d = local_distances(z[0], feats[0], grid, 3, pos[0], c).numpy().astype(np.float64)
    pr, pc = grid.pixel_cells(); pr=pr.numpy(); pc=pc.numpy()
    ms = np.arange(9)
    r = pr[None,:,None] + (ms//3-1)[:,None,None]; cc = pc[None,None,:] + (ms%3-1)[:,None,None]
    valid = (r>=0)&(r<grid.rows)&(cc>=0)&(cc<grid.cols)
    cand = np.where(valid, r*grid.cols+cc, -1).astype(np.int64)
    d = np.where(np.isfinite(d), d, 1e9)
    lab = np.take_along_axis(cand, d.argmin(0)[None], 0)[0].copy()
    d = d / max(np.median(d.min(0)), 1e-9)
    lab_img = x[0,:3].numpy().astype(np.float64)
    dif = (np.diff(lab_img,axis=1)**2).sum(0).mean()*0.5 + (np.diff(lab_img,axis=2)**2).sum(0).mean()*0.5
    beta = 1.0/(2*dif)
    if lam>0:
        lab = icm(d, cand, lab, lab_img, lam, beta, sweeps, conn8)
    return enforce_connectivity(lab, x[0,:3].permute(1,2,0).numpy(), n_segments=grid.n_seeds, min_size_factor=0.25, max_segments=int(round(grid.n_seeds*1.1)))
for spec in sys.argv[3:]:
    c, lam, sweeps, conn = spec.split(':'); c=float(c); lam=float(lam); sweeps=int(sweeps); conn8 = conn=='8'
    for k in [int(v) for v in sys.argv[2].split(',')]:
        acc=[]; t0=time.time()
        for s in samples:
            lab = seg(s.image, k, c, lam, sweeps, conn8); sc = score(lab, s.ground_truths)
            acc.append((lab.max()+1, sc['asa_best'], sc['br_best'], sc['ue_best'], sc['co']))
        a=np.mean(acc,0)
        print(f"c={c} lam={lam} sw={sweeps} conn={conn} K={k}: k {a[0]:.1f} ASA {a[1]:.4f} BR {a[2]:.4f} UE {a[3]:.4f} CO {a[4]:.4f}  {(time.time()-t0)/len(samples):.2f}s", flush=True)
