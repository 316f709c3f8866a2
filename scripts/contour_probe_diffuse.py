"""Pb-guided diffusion of the image, then model='none' on it (probe)."""
import argparse, sys, numpy as np, torch, lnsnet
sys.path.insert(0, __import__("os").path.dirname(__file__))
from lnsnet.eval.metrics import score
from contour_probe_pb_dsets import DS
_argv = sys.argv; sys.argv = [sys.argv[0], '-o', 'x']
import contour_probe_pb_distill as D
sys.argv = _argv
ap = argparse.ArgumentParser()
ap.add_argument("--kappa", type=float, default=0.2); ap.add_argument("--guide", default="pb"); ap.add_argument("--iters", type=int, default=30)
ap.add_argument("--spec", default="compact:compactness=26"); ap.add_argument("--images", type=int, default=50)
ap.add_argument("--data", default="bsds"); ap.add_argument("--split", default="val"); ap.add_argument("--start", type=int, default=0)
a = ap.parse_args(); torch.set_num_threads(1)
W = np.array([1, 1, 1, 0], np.float32)
def pbmap(i):
    m = np.load(f"/tmp/probe/pb/{a.split}_{i:03d}.npy").astype(np.float32)
    comb = np.tensordot(W, m.sum(1), axes=(0, 0)); E = comb.max(0)
    return np.clip(E / max(np.percentile(E, 99), 1e-9), 0, 1)
def diffuse(img, B):
    u = img.astype(np.float32).copy()
    # conductance on links from the max of B at both ends
    gy = np.exp(-np.maximum(B[1:], B[:-1]) / a.kappa)[..., None]
    gx = np.exp(-np.maximum(B[:, 1:], B[:, :-1]) / a.kappa)[..., None]
    for _ in range(a.iters):
        dy = (u[1:] - u[:-1]); dx = (u[:, 1:] - u[:, :-1])
        if a.guide == "pb" or a.guide.startswith("head:"):
            dy = dy * gy; dx = dx * gx
        elif a.guide == "pm":
            dy = dy * np.exp(-((dy ** 2).sum(-1, keepdims=True)) / a.kappa ** 2)
            dx = dx * np.exp(-((dx ** 2).sum(-1, keepdims=True)) / a.kappa ** 2)
        du = np.zeros_like(u)
        du[:-1] += dy; du[1:] -= dy; du[:, :-1] += dx; du[:, 1:] -= dx
        u += 0.2 * du
    return np.clip(u, 0, 1)
ds = DS(a); res = {}
for i in range(a.start, a.start + a.images):
    s = ds[i]; img = s.image if s.image.ndim == 3 else np.repeat(s.image[..., None], 3, -1)
    img = img.astype(np.float32) / (255.0 if img.dtype == np.uint8 else 1.0)
    if a.guide.startswith("head:"):
        import contour_probe_pb_distill as D
        if "head" not in globals():
            ck = torch.load(a.guide[5:]); globals()["head"] = D.Head(ck["cin"], ck["width"], ck["half"]); head.load_state_dict(ck["state"]); head.eval()
        with torch.no_grad(): Bm = head(D.inputs(s.image if s.image.ndim == 3 else np.repeat(s.image[..., None], 3, -1)))[0, 0].numpy()
    else:
        Bm = pbmap(i) if a.guide == "pb" else np.zeros(img.shape[:2], np.float32)
    f = diffuse(img, Bm) if a.iters > 0 else img
    for k in (100, 400, 1000):
        sc = score(lnsnet.segment(f, k, model="none", clustering=a.spec), s.ground_truths, s.image, ignore=getattr(ds, "ignore_label", None))
        res.setdefault(k, []).append([sc["n_segments"], sc["asa_best"], sc["br_best"], sc["ue_best"], sc["co"]])
tag = f"{a.data}{a.start or ''} diffuse guide={a.guide} kappa={a.kappa} iters={a.iters} {a.spec}"
line = tag + " | " + " | ".join(f"K={k} k={np.mean(v,0)[0]:.0f} ASA={np.mean(v,0)[1]:.4f} BR={np.mean(v,0)[2]:.4f} CO={np.mean(v,0)[4]:.3f}" for k, v in res.items())
print(line, flush=True); open("/tmp/probe/results.txt", "a").write(line + "\n")
