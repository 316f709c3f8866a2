"""Distil the Pb teacher into a small contour head (no labels): train on BSDS500 train maps, save."""
import argparse, glob, time, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
import lnsnet
from lnsnet.features import encode_image
from lnsnet.hub import load_model
from lnsnet.eval.datasets import BSDS500
ap = argparse.ArgumentParser()
ap.add_argument("--steps", type=int, default=1500)
ap.add_argument("--width", type=int, default=8)
ap.add_argument("--feats", action="store_true")   # use the shipped FEM's features too
ap.add_argument("--half", action="store_true")    # run at half resolution
ap.add_argument("-o", required=True)
ap.add_argument("--w", default="1,1,1,2")
ap.add_argument("--data", default="train")
ap.add_argument("--range", default="0,1000")
ap.add_argument("--init", default=None)
a = ap.parse_args()
W = np.array([float(v) for v in a.w.split(",")], np.float32)
torch.set_num_threads(1); torch.manual_seed(0)
def target(m):
    comb = np.tensordot(W, m.astype(np.float32).sum(1), axes=(0, 0)); E = comb.max(0)
    return np.clip(E / max(np.percentile(E, 99), 1e-9), 0, 1)
class Head(nn.Module):
    def __init__(self, cin, w, half):
        super().__init__(); self.half = half
        self.c1 = nn.Conv2d(cin, w, 3, padding=1); self.c2 = nn.Conv2d(w, w, 3, padding=2, dilation=2)
        self.c3 = nn.Conv2d(w, w, 3, padding=4, dilation=4); self.c4 = nn.Conv2d(w, w, 3, padding=8, dilation=8)
        self.out = nn.Conv2d(3 * w, 1, 1)
    def forward(self, x):
        H, Wd = x.shape[-2:]
        if self.half: x = F.avg_pool2d(x, 2, ceil_mode=True)
        h1 = F.relu(self.c1(x)); h2 = F.relu(self.c2(h1)); h3 = F.relu(self.c3(h2)); h4 = F.relu(self.c4(h3))
        y = self.out(torch.cat([h2, h3, h4], 1))
        if self.half: y = F.interpolate(y, size=(H, Wd), mode="bilinear", align_corners=False)
        return torch.sigmoid(y)
net = load_model("bsds500").eval()
def inputs(img):
    x, sc = encode_image(img, colour_scale=True)
    x = torch.from_numpy(x)[None]
    if a.feats:
        with torch.no_grad(): z = net.embed(x)
        x = torch.cat([x, z], 1)
    return x
if __name__ == "__main__":
    if a.data == "train":
        ds = BSDS500(split="train")
    else:
        import sys; sys.path.insert(0, __import__("os").path.dirname(__file__)); from contour_probe_pb_dsets import DS
        class A: data = a.data; images = 50
        ds = DS(A)
    lo, hi = map(int, a.range.split(","))
    files = [f for f in sorted(glob.glob(f"/tmp/probe/pb/{a.data}_*.npy")) if lo <= int(f[-7:-4]) < hi]
    data = []
    for f in files:
        i = int(f[-7:-4]); img = ds[i].image
        img = img if img.ndim == 3 else np.repeat(img[..., None], 3, -1)
        data.append((inputs(img), torch.from_numpy(target(np.load(f)))[None, None]))
    cin = data[0][0].shape[1]
    head = Head(cin, a.width, a.half)
    if a.init: head.load_state_dict(torch.load(a.init)['state'])
    print("params", sum(p.numel() for p in head.parameters()), "images", len(data), flush=True)
    opt = torch.optim.Adam(head.parameters(), 1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, a.steps)
    rng = np.random.default_rng(0); t0 = time.time(); run = 0
    for step in range(a.steps):
        x, y = data[rng.integers(len(data))]
        if rng.random() < 0.5: x, y = x.flip(-1), y.flip(-1)
        p = head(x); loss = F.mse_loss(p, y)
        opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        run = 0.98 * run + 0.02 * loss.item()
        if step % 100 == 0: print(step, f"{run:.4f}", f"{time.time()-t0:.0f}s", flush=True)
    torch.save({"state": head.state_dict(), "cin": cin, "width": a.width, "half": a.half, "feats": a.feats}, a.o)
