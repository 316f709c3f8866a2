"""Score a boundary network's map in the spatial term (replacing the colour steps)."""
import argparse, sys, numpy as np, torch, lnsnet
sys.path.insert(0, __file__.rsplit("/", 1)[0])
import contour_probe_boundary_net as boundary_net, __main__
__main__.BNet = boundary_net.BNet
import lnsnet.cluster.local as L
from lnsnet.eval.datasets import BSDS500
from lnsnet.eval.metrics import score
from lnsnet.features import encode
ap = argparse.ArgumentParser(); ap.add_argument("model"); ap.add_argument("--s", type=float, default=3.0)
ap.add_argument("--mode", default="rep"); ap.add_argument("--spec", default="compact:compactness=20"); ap.add_argument("--images", type=int, default=50); ap.add_argument("--pow", type=float, default=1.0)
a = ap.parse_args(); torch.set_num_threads(1)
net = torch.load(a.model, weights_only=False).eval(); orig = L.edge_weights; st = {}
def ew(image, edge_scale):
    B = st["B"]
    if a.mode == "rep": return np.exp(-a.s * B).astype(np.float32)
    return (orig(image, edge_scale) * np.exp(-a.s * B)).astype(np.float32)
L.edge_weights = ew
ds = BSDS500(split="val"); res = {}
for i in range(a.images):
    s = ds[i]
    with torch.no_grad(): B = torch.sigmoid(net(encode(s.image.astype(np.float32) / 255.0)))[0, 0].numpy()
    st["B"] = (B / max(B.max(), 1e-6)) ** a.pow
    for k in (100, 400, 1000):
        sc = score(lnsnet.segment(s.image, k, model="none", clustering=a.spec), s.ground_truths, s.image)
        res.setdefault(k, []).append([sc["n_segments"], sc["asa_best"], sc["br_best"], sc["ue_best"], sc["co"]])
for k, v in res.items():
    m = np.mean(v, 0)
    print(f"{a.model.split('/')[-1]} pow={a.pow} {a.mode} s={a.s} {a.spec} K={k} k={m[0]:.1f} ASA={m[1]:.4f} BR={m[2]:.4f} UE={m[3]:.4f} CO={m[4]:.3f}", flush=True)
