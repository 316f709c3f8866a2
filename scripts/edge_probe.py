"""Probe on BSDS500 val: the compact clustering's edge-aware spatial weight from CIELAB only
(the default) against CIELAB plus the learned features Z (each channel over its image std,
times SCALE / sqrt(C)), the other options the default's unless given.

    LNSNET_BSDS500=... python scripts/edge_probe.py N MODES KS
    LNSNET_BSDS500=... python scripts/edge_probe.py 100 lab,z:2,z:4:3.6 400,1000

MODES: ``lab`` or ``z:SCALE[:COMPACTNESS[:EDGE_SCALE]]``; prints per mode and K the means
over the first N val images of k delivered, ASA, BR (best annotator, r = 1) and CO.
Whole images only (``segment.edge_weights`` is monkeypatched; not part of the package).
"""
import sys

import numpy as np

_STATE = {}


def _init():
    import torch

    torch.set_num_threads(1)
    import lnsnet
    import importlib

    seg = importlib.import_module("lnsnet.segment")
    from lnsnet.eval.datasets import BSDS500

    real_edges, real_cluster = seg.edge_weights, seg.cluster_local

    def cluster(zband, bands, grid, image, *a, **kw):
        scale = _STATE.get("scale", 0.0)
        if scale > 0:
            z = zband(0, image.shape[1])
            zs = z / (z.std(axis=(1, 2), keepdims=True) + 1e-6)
            _STATE["stack"] = np.concatenate([image, scale * zs / np.sqrt(z.shape[0])]).astype(np.float32)
        try:
            return real_cluster(zband, bands, grid, image, *a, **kw)
        finally:
            _STATE.pop("stack", None)

    def edges(image, edge_scale):
        return real_edges(_STATE.get("stack", image), edge_scale)

    seg.cluster_local, seg.edge_weights = cluster, edges
    _STATE["ds"] = BSDS500(split="val")
    _STATE["net"] = lnsnet.load_model()


def _work(args):
    idx, modes, ks = args
    import lnsnet
    from lnsnet.eval.metrics import score

    s = _STATE["ds"][idx]
    out = []
    for mode in modes:
        parts = mode.split(":")
        _STATE["scale"] = float(parts[1]) if len(parts) > 1 else 0.0
        opts = {}
        if len(parts) > 2:
            opts["compactness"] = float(parts[2])
        if len(parts) > 3:
            opts["edge_scale"] = float(parts[3])
        for k in ks:
            lab = lnsnet.segment(s.image, k, model=_STATE["net"], **opts)
            r = score(lab, s.ground_truths)
            out.append((mode, k, lab.max() + 1, r["asa_best"], r["br_best"], r["co"]))
    return out


if __name__ == "__main__":
    import multiprocessing as mp

    n = int(sys.argv[1])
    modes = sys.argv[2].split(",")
    ks = [int(k) for k in sys.argv[3].split(",")]
    with mp.get_context("spawn").Pool(2, initializer=_init) as pool:
        res = [r for part in pool.imap_unordered(_work, [(i, modes, ks) for i in range(n)]) for r in part]
    for m in modes:
        for k in ks:
            rows = np.array([r[2:] for r in res if r[0] == m and r[1] == k], dtype=float)
            print(m, k, " ".join(f"{v:.4f}" for v in rows.mean(0)))
