"""Probe (issue 18, val only): the contour head's scale chosen per image.

Rule, written before the run: for each image, c = Pearson correlation between the head's
map at full resolution (s = 1) and its map at half resolution (s = 2: area-averaged colour,
map upsampled bilinearly). The head runs at s = 2 where c >= tau, else at s = 1; tau from
{0.5, 0.6, 0.7, 0.8, 0.9, 1.01 (never)} chosen by the largest BR gain over model="none"'s
BR-CO curve summed over BSDS500 val, SBD val and DSB2018 at K = 100 / 400 / 1000; adopted
under the head-scale probe's conditions against s = 1 (every (set, K): dBR >= s1's - 0.002,
ASA >= s1's - 0.0005; CO on BSDS500 val >= s1's - 0.001; summed dBR >= s1's + 0.01).
Per-image rows for s = 1 and s = 2 are written once; each tau is a selection among them.

    python scale_sel.py run SET ROWS.jsonl
    python scale_sel.py table ROWS.jsonl LOG_WITH_NONE_CURVES.jsonl
"""
import json, os, sys
import numpy as np, torch, torch.nn.functional as F
import lnsnet
from lnsnet.eval.metrics import score
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from contour_grid_val import dataset

KS = (100, 400, 1000)
TAUS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.01)


def run(st, out):
    torch.set_num_threads(1)
    net = lnsnet.load_model("bsds500")
    orig = net.contours
    maps = {}

    def record(colour):
        b1 = orig(colour)
        h, w = colour.shape[-2:]
        b2 = F.interpolate(orig(F.interpolate(colour, scale_factor=0.5, mode="area")), size=(h, w), mode="bilinear",
                           align_corners=False)
        a, b = b1.flatten().double(), b2.flatten().double()
        maps["c"] = float(torch.corrcoef(torch.stack([a, b]))[0, 1])
        return b2 if maps["s"] == 2 else b1

    net.contours = record
    ds, n = dataset(st, os.environ.get("LNSNET_DATA", "../shared/data"))
    with open(out, "a") as fh:
        for i in range(n):
            smp = ds[i]
            for s in (1, 2):
                maps["s"] = s
                for k in KS:
                    lab = lnsnet.segment(smp.image, k, model=net, clustering="fast")
                    sc = score(lab, smp.ground_truths, ignore=getattr(ds, "ignore_label", None))
                    fh.write(json.dumps({"set": st, "i": i, "s": s, "K": k, "c": maps["c"], "br": sc["br_best"],
                                         "asa": sc["asa_best"], "co": sc["co"]}) + "\n")
            print(st, i, round(maps["c"], 3), flush=True)


def table(rows_path, log):
    rows = [json.loads(l) for l in open(rows_path)]
    recs = [json.loads(l) for l in open(log)]

    def curve(st, k, co, m):
        pts = sorted((r[f"co{k}"], r[f"{m}{k}"]) for r in recs if r["set"] == st and r["model"] == "none")
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        return float(np.interp(co, xs, ys)) if xs[0] <= co <= xs[-1] else float("nan")

    by = {(r["set"], r["i"], r["s"], r["K"]): r for r in rows}
    res = {}
    for tau in (0.0,) + TAUS:  # 0.0: always s = 2
        tot = 0.0
        line = []
        for st in ("bsds", "sbd", "dsb"):
            imgs = sorted({r["i"] for r in rows if r["set"] == st})
            if not imgs:
                continue
            for k in KS:
                pick = [by[(st, i, 2 if by[(st, i, 1, k)]["c"] >= tau else 1, k)] for i in imgs]
                br, asa, co = (float(np.mean([p[m] for p in pick])) for m in ("br", "asa", "co"))
                d = br - curve(st, k, co, "br")
                tot += d
                line.append(f"{st}{k}: dBR {d:+.4f} ASA {asa:.4f} CO {co:.3f} s2 {np.mean([p['s'] == 2 for p in pick]):.2f}")
        print(f"tau {tau}: sum {tot:+.4f}\n   " + "\n   ".join(line))
    for st in ("bsds", "sbd", "dsb"):
        cs = [r["c"] for r in rows if r["set"] == st and r["s"] == 1 and r["K"] == 100]
        if cs:
            print(st, "c quantiles", np.round(np.quantile(cs, [0, 0.1, 0.5, 0.9, 1]), 3))


if __name__ == "__main__":
    run(sys.argv[2], sys.argv[3]) if sys.argv[1] == "run" else table(sys.argv[2], sys.argv[3])
