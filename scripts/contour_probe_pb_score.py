import argparse, os, numpy as np, torch, lnsnet
from scipy.ndimage import gaussian_filter
import lnsnet.cluster.local as L
from lnsnet.eval.datasets import BSDS500
from lnsnet.eval.metrics import score
from contour_probe_pb_dsets import DS
ap = argparse.ArgumentParser()
ap.add_argument("--mode", default="none")  # none | rep | mul
ap.add_argument("--s", type=float, default=3.0)
ap.add_argument("--spec", default="compact:compactness=20")
ap.add_argument("--images", type=int, default=50)
ap.add_argument("--start", type=int, default=0)
ap.add_argument("--w", default="1,1,1,1")  # channel weights L,a,b,texture
ap.add_argument("--scales", default="0,1,2")
ap.add_argument("--p", type=float, default=99.0)
ap.add_argument("--nms", action="store_true")
ap.add_argument("--blur", type=float, default=0.0)
ap.add_argument("--gamma", type=float, default=1.0)
ap.add_argument("--split", default="val")
ap.add_argument("--model", default="none")
ap.add_argument("--data", default="bsds")
ap.add_argument("--felz", default="")  # max | mean | only
a = ap.parse_args()
torch.set_num_threads(1)
orig = L.edge_weights; state = {}
def ew(image, edge_scale):
    w = orig(image, edge_scale)
    if a.mode == "none": return w
    B = state["B"]
    if a.mode == "rep": return np.exp(-a.s * B).astype(np.float32)
    if a.mode == "mul": return (w * np.exp(-a.s * B)).astype(np.float32)
    return w
L.edge_weights = ew
wts = np.array([float(x) for x in a.w.split(",")], np.float32)
sc_idx = [int(x) for x in a.scales.split(",")]
def nms(E, O):
    # O: orientation index of boundary line angle th = pi*o/8; normal = th + 90deg
    H, W = E.shape; out = E.copy()
    ang = np.pi * O / 8 + np.pi / 2
    dx = np.rint(np.cos(ang)).astype(int); dy = np.rint(-np.sin(ang)).astype(int)
    yy, xx = np.mgrid[:H, :W]
    y1 = np.clip(yy + dy, 0, H - 1); x1 = np.clip(xx + dx, 0, W - 1)
    y2 = np.clip(yy - dy, 0, H - 1); x2 = np.clip(xx - dx, 0, W - 1)
    keep = (E >= E[y1, x1]) & (E >= E[y2, x2])
    return out * keep
ds = DS(a); res = {}
for i in range(a.start, a.start + a.images):
    s = ds[i]
    if a.mode != "none":
        m = np.load(f"/tmp/probe/pb/{a.split}_{i:03d}.npy").astype(np.float32)[:, sc_idx]
        comb = np.tensordot(wts, m.sum(1), axes=(0, 0))  # (8, H, W)
        E = comb.max(0); O = comb.argmax(0)
        if a.nms: E = nms(E, O)
        if a.blur > 0: E = gaussian_filter(E, a.blur)
        B = np.clip(E / max(np.percentile(E, a.p), 1e-9), 0, 1) ** a.gamma
        if a.felz:
            from skimage.segmentation import felzenszwalb, find_boundaries
            img = s.image if s.image.ndim == 3 else np.repeat(s.image[..., None], 3, -1)
            side = max(img.shape[:2]); Fm = np.zeros(img.shape[:2], np.float32)
            for sc in (50, 100, 200, 400, 800):
                Fm += find_boundaries(felzenszwalb(img, scale=sc * side / 400, sigma=0.8, min_size=20), mode="thick")
            Fm = gaussian_filter(Fm / 5, 1.0); Fm /= max(Fm.max(), 1e-6)
            B = {"max": np.maximum(B, Fm), "mean": 0.5 * (B + Fm), "only": Fm}[a.felz]
        state["B"] = B
    for k in (100, 400, 1000):
        sc = score(lnsnet.segment(s.image, k, model=a.model, clustering=a.spec), s.ground_truths, s.image, ignore=getattr(ds, 'ignore_label', None))
        res.setdefault(k, []).append([sc["n_segments"], sc["asa_best"], sc["br_best"], sc["ue_best"], sc["co"]])
tag = f"{a.data}{a.start or ''} " + f"{a.mode}{(' felz=' + a.felz) if a.felz else ''} s={a.s} w={a.w} sc={a.scales} p={a.p} nms={a.nms} blur={a.blur} g={a.gamma} {a.spec} model={a.model}"
line = tag + " | " + " | ".join(f"K={k} k={np.mean(v,0)[0]:.0f} ASA={np.mean(v,0)[1]:.4f} BR={np.mean(v,0)[2]:.4f} CO={np.mean(v,0)[4]:.3f}" for k, v in res.items())
print(line, flush=True)
open("/tmp/probe/results.txt", "a").write(line + "\n")
