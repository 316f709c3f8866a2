"""Probe (val only): the spatial term weakened where the local colour contrast is low, so a
faint edge beside strong contrasts elsewhere is followed (review finding: a faint cloud in
a cartoon gets a grid). factor(p) = clip((v_loc(p) / (alpha v_img)) ** gamma, lo, 1), v_loc the
clustering colour's variance in a Gaussian window of sigma = S / 2 (S the superpixels'
side), v_img the image's; times the contour head's factor. Usage:
python scripts/probe_local_contrast.py SET GAMMA LO COMPACTNESS [--synth] [--alpha=A]

The rule, written before the val grid was run (2026-12-06, sixth session): candidates gamma
0.5 and 1 (lo 0.05), each at compactness values around `fast`'s 32. A candidate is admitted
when, at the same CO (against `fast`'s own BR-CO curve at compactness 24 / 32 / 40, linear
between), its BR is at least `fast`'s at every K = 100 / 400 / 1000 on each of BSDS500 val
(50), SBD val (50) and DSB2018 (65), its ASA at most 0.0005 below `fast`'s at the nearest
compactness anywhere, its CO on BSDS500 val within 0.005 of `fast`'s at every K, and the
faint cloud beside strong contrasts (`--synth`, dE 4) is found (BR >= 0.9 at K = 100 and 400).
Among the admitted, the largest smallest BR gain; none admitted: `fast` stays.
"""
import json, math, os, sys
import numpy as np, torch
import torch.nn.functional as F
import lnsnet, lnsnet.inference as inf
from lnsnet.eval.metrics import score
sys.path.insert(0, os.path.dirname(__file__))
from contour_grid_val import dataset

SET, GAMMA, LO, COMP = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
ALPHA = float(next((a.split("=")[1] for a in sys.argv if a.startswith("--alpha=")), 1.0))
STATE = {"k": 100}
real = inf._contour_factors


def blur(x, s):
    r = int(3 * s) + 1
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    g = torch.exp(-t ** 2 / (2 * s * s)); g /= g.sum()
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), g.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), g.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def patched(net, colour, options, mask, dev):
    c = real(net, colour, options, mask, dev)
    if GAMMA == 0:
        return c
    h, w = colour.shape[2:]
    s = max(1.0, 0.5 * math.sqrt(h * w / STATE["k"]))
    m = blur(colour, s)
    v = (blur(colour ** 2, s) - m ** 2).clamp_min(0).sum(1)
    vimg = colour.var(dim=(2, 3)).sum(1)[:, None, None]
    f = ((v + 1e-12) / (ALPHA * vimg)).pow(GAMMA).clamp(LO, 1.0)
    return f if c is None else c * f


inf._contour_factors = patched
torch.set_num_threads(1)
spec = f"fast:compactness={COMP:g}"
if "--synth" in sys.argv:
    from scipy import ndimage
    from skimage.color import lab2rgb
    from skimage.segmentation import find_boundaries

    def make(strong, dE, H=320, W=480):  # a light blue sky, a faint cloud (dE), black stripes at the left
        yy, xx = np.mgrid[:H, :W]
        lab = np.zeros((H, W, 3)); lab[..., 0] = 75; lab[..., 2] = -25
        cloud = ((yy - 160) / 70) ** 2 + ((xx - 330) / 110) ** 2 < 1
        lab[cloud, 0] += dE; lab[cloud, 2] += dE * 1.5
        if strong:
            lab[(xx < 160) & (((yy // 20) % 2) == 0)] = [5, 0, 0]
            lab[(yy > 200) & (yy < 300) & (xx > 30) & (xx < 130)] = [50, 70, 60]
        lab[..., 0] += np.random.default_rng(0).normal(0, 1.0, (H, W))
        return (np.clip(lab2rgb(lab), 0, 1) * 255).round().astype(np.uint8), cloud

    def br(labels, region, r=2):
        gb = find_boundaries(region.astype(int), mode="inner")
        return (gb & ndimage.binary_dilation(find_boundaries(labels, mode="thick"), iterations=r)).sum() / gb.sum()
    for dE in (4, 8):
        img, cloud = make(True, dE)
        out = []
        for k in (100, 400):
            STATE["k"] = k
            out.append(round(br(lnsnet.segment(img, k, clustering=spec), cloud), 2))
        print("synth dE", dE, out)
    sys.exit()
ds, n = dataset(SET, os.environ.get("DATA", "../shared/data"))
res = {k: [] for k in (100, 400, 1000)}
for i in range(n):
    s = ds[i]
    for k in res:
        STATE["k"] = k
        sc = score(lnsnet.segment(s.image, k, clustering=spec), s.ground_truths, s.image,
                   ignore=getattr(ds, "ignore_label", None))
        res[k].append([sc["br_best"], sc["asa_best"], sc["co"]])
rec = {"set": SET, "gamma": GAMMA, "lo": LO, "alpha": ALPHA, "compactness": COMP,
       **{f"{m}{k}": round(float(np.mean(np.array(v)[:, j])), 4) for k, v in res.items() for j, m in enumerate(("br", "asa", "co"))}}
print(json.dumps(rec), flush=True)
with open("/tmp/localcontrast.jsonl", "a") as fh:
    fh.write(json.dumps(rec) + "\n")
