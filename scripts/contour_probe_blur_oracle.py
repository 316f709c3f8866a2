"""Oracle region features, blurred: is the learned features' missing gain knowledge or sharpness?"""
import argparse, numpy as np, torch, lnsnet
from scipy.ndimage import gaussian_filter
from lnsnet.eval.datasets import BSDS500
from lnsnet.eval.metrics import score
from lnsnet.hub import baseline_model
from lnsnet.model.embedder import InputEmbedder

from scipy.ndimage import uniform_filter
def guided(I, p, r, eps):
    """He et al.'s guided filter, colour guide I (3,H,W), inputs p (C,H,W)."""
    box = lambda x: uniform_filter(x, size=2 * r + 1, mode="reflect")
    mI = np.stack([box(c) for c in I])
    cov = np.empty((3, 3) + I.shape[1:], np.float32)
    for i in range(3):
        for j in range(i, 3):
            cov[i, j] = cov[j, i] = box(I[i] * I[j]) - mI[i] * mI[j]
    cov += eps * np.eye(3, dtype=np.float32)[:, :, None, None]
    inv = np.linalg.inv(cov.transpose(2, 3, 0, 1))  # H,W,3,3
    out = []
    for c in p:
        mp = box(c)
        cIp = np.stack([box(I[i] * c) - mI[i] * mp for i in range(3)], -1)  # H,W,3
        A = np.einsum("hwij,hwj->hwi", inv, cIp)
        b = mp - np.einsum("hwi,ihw->hw", A, mI)
        out.append(np.einsum("ihw,ihw->hw", np.stack([box(A[..., i]) for i in range(3)]), I) + box(b))
    return np.stack(out).astype(np.float32)

class Given(InputEmbedder):
    def __init__(self):
        super().__init__(8); self.z = None
    def forward(self, x): return self.z
    def forward_band(self, x, top, bottom, stats, stage): return self.z

ap = argparse.ArgumentParser()
ap.add_argument("--sigma", type=float, default=0.0)
ap.add_argument("--alpha", type=float, default=2.0)
ap.add_argument("--spec", default="compact:compactness=20")
ap.add_argument("--images", type=int, default=50)
ap.add_argument("--gf", type=float, default=0.0)
ap.add_argument("--eps", type=float, default=1e-2)
ap.add_argument("--noise", type=float, default=0.0)
a = ap.parse_args()
torch.set_num_threads(1)
net = baseline_model("none"); net.embedder = Given()
ds = BSDS500(split="val"); rng = np.random.default_rng(0); res = {}
for i in range(a.images):
    s = ds[i]
    g = s.ground_truths[rng.integers(len(s.ground_truths))]
    v = rng.normal(size=(g.max() + 1, 8)).astype(np.float32) / np.sqrt(8)
    z = v[g].transpose(2, 0, 1).copy()
    if a.sigma > 0:
        z = np.stack([gaussian_filter(c, a.sigma) for c in z])
    if a.gf > 0:
        from skimage.color import rgb2lab
        guide = rgb2lab(s.image).transpose(2, 0, 1).astype(np.float32) / np.array([100, 128, 128], np.float32)[:, None, None]
        z = guided(guide, z, int(a.gf), a.eps)
    if a.noise > 0:
        z = z + rng.normal(size=z.shape).astype(np.float32) * a.noise
    net.embedder.z = torch.from_numpy(np.ascontiguousarray(z))[None] * a.alpha
    for k in (100, 400, 1000):
        sc = score(lnsnet.segment(s.image, k, model=net, clustering=a.spec), s.ground_truths, s.image)
        res.setdefault(k, []).append([sc["n_segments"], sc["asa_best"], sc["br_best"], sc["ue_best"], sc["co"]])
for k, v in res.items():
    m = np.mean(v, 0)
    print(f"sigma={a.sigma} noise={a.noise} alpha={a.alpha} {a.spec} K={k} k={m[0]:.1f} ASA={m[1]:.4f} BR={m[2]:.4f} UE={m[3]:.4f} CO={m[4]:.3f}", flush=True)
