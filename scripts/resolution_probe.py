"""Probe (issue 18, val only): does the contour head's gain over its input hold on photos
of twice the resolution, and does running the head at the resolution it learned on bring
back what is lost? BSDS500 val (first 50) at scale 1 and upsampled by 2 (bicubic; the
annotations by pixel repetition), K = 100 / 400 / 1000; one JSON line per (scale, method).

    python scripts/resolution_probe.py --scale 2 --method fast --log LOG
    methods: fast, fast-head-half (the head on the colour at half resolution, its map
    upsampled), none:C (model="none", compactness C), slic
"""
import argparse, json
import numpy as np, torch, torch.nn.functional as F
from PIL import Image
import lnsnet
from lnsnet.eval.datasets import BSDS500
from lnsnet.eval.metrics import score
from lnsnet.eval.baselines import slic as slic_baseline

KS = (100, 400, 1000)


def half_head(net):
    orig = net.contours

    def contours(colour):
        h, w = colour.shape[-2:]
        small = F.interpolate(colour, scale_factor=0.5, mode="area")
        b = orig(small)
        return F.interpolate(b, size=(h, w), mode="bilinear", align_corners=False)

    net.contours = contours
    return net


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=int, default=1)
    ap.add_argument("--method", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--n", type=int, default=50)
    a = ap.parse_args()
    torch.set_num_threads(1)
    ds = BSDS500("/work/shared/data/bsds500", split="val")
    res = {k: [] for k in KS}
    for i in range(a.n):
        s = ds[i]
        img, gts = s.image, s.ground_truths
        if a.scale != 1:
            h, w = img.shape[:2]
            img = np.asarray(Image.fromarray(img).resize((w * a.scale, h * a.scale), Image.BICUBIC))
            gts = [np.repeat(np.repeat(g, a.scale, 0), a.scale, 1) for g in gts]
        for k in KS:
            if a.method == "slic":
                lab = slic_baseline(img, k)
            elif a.method.startswith("none:"):
                lab = lnsnet.segment(img, k, model="none", clustering=f"compact:compactness={a.method[5:]}")
            elif a.method == "fast":
                lab = lnsnet.segment(img, k, clustering="fast")
            elif a.method == "fast-head-half":
                net = half_head(lnsnet.load_model("bsds500"))
                lab = lnsnet.segment(img, k, model=net, clustering="fast")
            sc = score(lab, gts)
            res[k].append([sc["br_best"], sc["asa_best"], sc["co"], sc["n_segments"]])
    rec = {"scale": a.scale, "method": a.method,
           **{f"{m}{k}": float(np.mean(np.array(res[k])[:, j])) for k in KS for j, m in enumerate(("br", "asa", "co", "k"))}}
    with open(a.log, "a") as fh:
        fh.write(json.dumps(rec) + "\n")
    print(rec, flush=True)


if __name__ == "__main__":
    main()
