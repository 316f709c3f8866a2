"""Probe on BSDS500 val: the smoothing's contrast from CIELAB only (the default) against
CIELAB plus the learned features Z (each channel over its image std, times SCALE / sqrt(C)),
with the default compact clustering otherwise (compactness COMP, default 3.5).

    LNSNET_BSDS500=... python scripts/zcontrast_probe.py N MODES KS
    LNSNET_BSDS500=... python scripts/zcontrast_probe.py 100 lab,z:3:3.25,z:4:3.35 800,1000

MODES: ``lab`` (the package's default) or ``z:SCALE[:COMP]``; prints per mode and K the
means over the first N val images of k delivered, ASA, BR (best annotator, r = 1) and CO.
Whole images only (the package's clustering is monkeypatched; not part of the package).
"""
import sys, os, numpy as np, importlib, multiprocessing as mp
def work(args):
    idx, mode, ks = args
    import torch; torch.set_num_threads(1)
    import lnsnet
    from lnsnet import _kernels
    from lnsnet.eval.datasets import BSDS500
    from lnsnet.eval.metrics import score
    seg = importlib.import_module("lnsnet.segment")
    orig_cluster = seg.cluster_local
    parts = mode.split(":")
    scale = float(parts[1]) if len(parts) > 1 else 0.0
    comp = float(parts[2]) if len(parts) > 2 else 3.5
    def patched(zband, bands, grid, image, *a, **kw):
        if scale > 0 and len(bands) == 1:
            z = zband(0, image.shape[1])
            zs = z / (z.std(axis=(1, 2), keepdims=True) + 1e-6)
            img2 = np.concatenate([image, scale * zs / np.sqrt(z.shape[0])]).astype(np.float32)
            real_cw = _kernels.contrast_weights
            real_beta = seg.contrast_beta
            seg.contrast_beta = lambda im: real_beta(img2)
            _kernels.contrast_weights = lambda im, beta: real_cw(img2, beta)
            try:
                return orig_cluster(zband, bands, grid, image, *a, **kw)
            finally:
                _kernels.contrast_weights = real_cw
                seg.contrast_beta = real_beta
        return orig_cluster(zband, bands, grid, image, *a, **kw)
    seg.cluster_local = patched
    ds = BSDS500(split="val")
    s = ds[idx]
    out = []
    for k in ks:
        lab = lnsnet.segment(s.image, k, compactness=comp)
        r = score(lab, s.ground_truths)
        out.append((k, lab.max() + 1, r["asa_best"], r["br_best"], r["co"]))
    return mode, idx, out

if __name__ == "__main__":
    n = int(sys.argv[1]); modes = sys.argv[2].split(","); ks = [int(k) for k in sys.argv[3].split(",")]
    tasks = [(i, m, ks) for m in modes for i in range(n)]
    with mp.get_context("spawn").Pool(2) as pool:
        res = pool.map(work, tasks)
    for m in modes:
        for j, k in enumerate(ks):
            rows = np.array([r[2][j][1:] for r in res if r[0] == m], dtype=float)
            print(m, k, " ".join(f"{v:.4f}" for v in rows.mean(0)))
