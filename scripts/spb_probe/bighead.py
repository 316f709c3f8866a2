"""A contour head with a larger receptive field (dilations up to DMAX at half resolution),
trained from scratch on the 200 BSDS500 train images (20 steps a crop, Adam 1e-3, 320 px,
flips), teacher = a precomputed map (g or hdt); saved as a whole module.
usage: python bighead.py KEY DILS OUT.pt  (DILS like 1,2,4,8,16,32)"""
import sys, os, glob, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from PIL import Image
from lnsnet.prepare import prepare, clustering_colour
from lnsnet.cluster.options import PRESETS
torch.set_num_threads(1)
class BigHead(nn.Module):
    def __init__(self, dils, width=12):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(3 if i == 0 else width, width, 3, padding=d, dilation=d, padding_mode="replicate") for i, d in enumerate(dils))
        self.out = nn.Conv2d((len(dils) - 1) * width, 1, 1)
        g = torch.Generator().manual_seed(0)
        for c in list(self.convs) + [self.out]:
            nn.init.kaiming_normal_(c.weight, nonlinearity="relu", generator=g); nn.init.zeros_(c.bias)
    def forward(self, x):
        h, w = x.shape[-2:]
        t = F.avg_pool2d(x, 2, ceil_mode=True); outs = []
        for c in self.convs:
            t = F.relu(c(t)); outs.append(t)
        y = F.interpolate(self.out(torch.cat(outs[1:], 1)), scale_factor=2.0, mode="bilinear", align_corners=False)[:, :, :h, :w]
        return torch.sigmoid(y)
if __name__ == "__main__":
    key, dils, out = sys.argv[1], tuple(int(v) for v in sys.argv[2].split(",")), sys.argv[3]
    head = BigHead(dils); opt = torch.optim.Adam(head.parameters(), lr=1e-3)
    files = sorted(glob.glob("/work/shared/data/bsds500/images/train/*.jpg"))
    E = int(os.environ.get("EPOCHS", "1"))
    for i, f in enumerate(files * E):
        rng = np.random.default_rng([0, i])
        rgb = np.asarray(Image.open(f).convert("RGB")).astype(np.float32) / 255
        full = np.load("/tmp/tex/train/" + os.path.basename(f)[:-4] + ".npz")[key].astype(np.float32)
        h, w = rgb.shape[:2]; ch, cw = min(h, 320), min(w, 320)
        r0, c0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = np.ascontiguousarray(rgb[r0:r0 + ch, c0:c0 + cw]); target = torch.from_numpy(full[r0:r0 + ch, c0:c0 + cw])[None, None]
        prep = prepare(crop, blur=PRESETS["compact"]["blur"])
        colour = clustering_colour(torch.from_numpy(prep.x)[None], [prep.colour_scale])
        tot = 0
        for _ in range(20):
            x, y = (colour.flip(-1), target.flip(-1)) if rng.random() < 0.5 else (colour, target)
            loss = F.mse_loss(head(x), y); opt.zero_grad(); loss.backward(); opt.step(); tot += float(loss)
        if i % 20 == 19: print(i + 1, tot / 20, flush=True)
    import lnsnet
    net = lnsnet.load_model("bsds500"); net.contour_head = head.eval()
    torch.save(net, out)
