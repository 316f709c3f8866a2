"""Probe (val only): the spatial term weakened where the local colour contrast is low, so a
faint edge beside strong contrasts elsewhere is followed (review finding: a faint cloud in
a cartoon gets a grid). factor(p) = clip((v_loc(p) / v_img) ** gamma, lo, 1), v_loc the
clustering colour's variance in a Gaussian window of sigma = S / 2 (S the superpixels'
side), v_img the image's; times the contour head's factor. Usage:
python scripts/probe_local_contrast.py SET GAMMA LO COMPACTNESS [--synth]

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
    f = ((v + 1e-12) / vimg).pow(GAMMA).clamp(LO, 1.0)
    return f if c is None else c * f


inf._contour_factors = patched
torch.set_num_threads(1)
spec = f"fast:compactness={COMP:g}"
if "--synth" in sys.argv:
    exec(open("/tmp/cloud.py").read().split("for strong in")[0])
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
rec = {"set": SET, "gamma": GAMMA, "lo": LO, "compactness": COMP,
       **{f"{m}{k}": round(float(np.mean(np.array(v)[:, j])), 4) for k, v in res.items() for j, m in enumerate(("br", "asa", "co"))}}
print(json.dumps(rec), flush=True)
with open("/tmp/localcontrast.jsonl", "a") as fh:
    fh.write(json.dumps(rec) + "\n")
