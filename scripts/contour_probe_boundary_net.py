"""Upper bound probe: a small network trained WITH labels (BSDS500 train human boundaries) to
predict a boundary map; does such a map, in the spatial term, beat the colour steps?"""
import argparse, time, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from lnsnet.eval.datasets import BSDS500
from lnsnet.features import encode

class BNet(nn.Module):
    def __init__(self, w=16, ctx=True):
        super().__init__()
        self.loc = nn.ModuleList([nn.Conv2d(5, w, 3, padding=1), nn.Conv2d(w, w, 3, padding=2, dilation=2), nn.Conv2d(w, w, 3, padding=1)])
        self.ctx = nn.ModuleList([nn.Conv2d(5, w, 3, padding=1), nn.Conv2d(w, w, 3, padding=2, dilation=2),
                                  nn.Conv2d(w, w, 3, padding=4, dilation=4), nn.Conv2d(w, w, 3, padding=8, dilation=8)]) if ctx else None
        self.out = nn.Conv2d(2 * w if ctx else w, 1, 1)
    def forward(self, x):
        h = x
        for c in self.loc:
            h = F.relu(c(h))
        if self.ctx is not None:
            c = F.avg_pool2d(x, 4, ceil_mode=True)
            for conv in self.ctx:
                c = F.relu(conv(c))
            h = torch.cat([h, F.interpolate(c, size=x.shape[2:], mode="bilinear", align_corners=False)], 1)
        return self.out(h)

def gt_boundary(gts, shape):
    B = np.zeros(shape, np.float32)
    for g in gts:
        b = np.zeros(shape, bool)
        d = g[:, 1:] != g[:, :-1]; b[:, 1:] |= d; b[:, :-1] |= d
        d = g[1:] != g[:-1]; b[1:] |= d; b[:-1] |= d
        B += b
    return B / len(gts)

if __name__ == "__main__":
    ap = argparse.ArgumentParser(); ap.add_argument("-o", required=True); ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--noctx", action="store_true"); a = ap.parse_args()
    torch.set_num_threads(1); torch.manual_seed(0); rng = np.random.default_rng(0)
    ds = BSDS500(split="train"); data = []
    for i in range(len(ds)):
        s = ds[i]; data.append((encode(s.image.astype(np.float32) / 255.0), torch.from_numpy(gt_boundary(s.ground_truths, s.image.shape[:2]))[None, None]))
    net = BNet(ctx=not a.noctx); opt = torch.optim.Adam(net.parameters(), 1e-3); t0 = time.time(); run = []
    for step in range(a.steps):
        x, y = data[rng.integers(len(data))]
        if rng.random() < 0.5: x, y = x.flip(3), y.flip(3)
        p = net(x); pos = y.mean()
        wgt = torch.where(y > 0, (1 - pos) / pos.clamp_min(1e-3), torch.ones_like(y)) * pos  # HED's class balance
        loss = F.binary_cross_entropy_with_logits(p, y, weight=wgt)
        opt.zero_grad(); loss.backward(); opt.step(); run.append(float(loss))
        if (step + 1) % 100 == 0: print(step + 1, np.mean(run[-100:]), f"{time.time() - t0:.0f}s", flush=True)
    torch.save(net, a.o)
