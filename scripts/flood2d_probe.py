"""Probe (issue 18, val only): photos flooded (lnsnet.flood, the compact watershed of
boundary images) on the contour head's map (learned without labels) and on the input's
own colour gradient (no learning), against the compact clustering on the input
(model="none") read at the same CO. Rule, written before it ran: the flood on the head's
map is worth building on if at the same CO as model="none" (interpolated along its
compactness 8 ... 40) it gains at least +0.02 BR and +0.003 ASA at every K on BSDS500 val
(first 50), and at least 0 on SBD val (first 50) and DSB2018; the flood on the input's
gradient says what the learning adds over the flood itself. Removed once written up.

    python scripts/flood2d_probe.py run bsds rows.jsonl && python scripts/flood2d_probe.py table rows.jsonl
"""
import json
import os
import sys

import numpy as np
import torch
from scipy import ndimage

import lnsnet
from lnsnet.eval.datasets import BSDS500, FolderDataset
from lnsnet.eval.metrics import score
from lnsnet.flood import segment_boundaries
from lnsnet.prepare import clustering_colour, prepare

KS = (100, 400, 1000)
NONE_C = (8, 12, 18, 26, 40)
FLOOD_C = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)


def dataset(name, data):
    if name == "bsds":
        return BSDS500(os.path.join(data, "bsds500"), split="val"), 50
    if name == "sbd":
        names = [l.strip() for l in open(os.path.join(data, "sbd/splits/stutz_val_238.txt"))][:50]
        return FolderDataset(os.path.join(data, "sbd/images"), os.path.join(data, "sbd/labels"), names=names,
                             ignore_label=0), 50
    return FolderDataset(os.path.join(data, "dsb2018-nuclei/images"), os.path.join(data, "dsb2018-nuclei/labels")), 65


def maps(net, image):
    prep = prepare(image, blur=0.8)
    colour = clustering_colour(torch.from_numpy(prep.x)[None], [prep.colour_scale])
    with torch.inference_mode():
        head = net.contours(colour)[0, 0].numpy()
    c = colour[0].numpy()
    grad = np.sqrt(sum(ndimage.sobel(ch, 0) ** 2 + ndimage.sobel(ch, 1) ** 2 for ch in c)).astype(np.float32)
    return {"head": head.astype(np.float32), "grad": grad}


def run(name, log):
    torch.set_num_threads(1)
    ds, n = dataset(name, os.environ.get("LNSNET_DATA", "../shared/data"))
    net = lnsnet.load_model("bsds500")
    res: dict = {}
    ign = getattr(ds, "ignore_label", None)
    for i in range(n):
        s = ds[i]
        m = maps(net, s.image)
        for k in KS:
            runs = {("none", c): lambda c=c: lnsnet.segment(s.image, k, model="none", clustering="compact",
                                                            compactness=c) for c in NONE_C}
            runs[("fast", 32)] = lambda: lnsnet.segment(s.image, k, model=net)
            for src in ("head", "grad"):
                for c in FLOOD_C:
                    runs[(f"flood-{src}", c)] = lambda src=src, c=c: segment_boundaries(
                        m[src][None], k, compactness=c, smooth=0.0)[0]
            for key, f in runs.items():
                sc = score(f(), s.ground_truths, ignore=ign)
                res.setdefault(key + (k,), []).append([sc["br_best"], sc["asa_best"], sc["co"], sc["n_segments"]])
        print(name, i, flush=True)
    with open(log, "a") as fh:
        for (meth, c, k), v in res.items():
            a = np.mean(np.array(v), 0)
            fh.write(json.dumps({"set": name, "method": meth, "c": c, "K": k, "br": a[0], "asa": a[1], "co": a[2],
                                 "k": a[3]}) + "\n")


def table(log):
    recs = [json.loads(l) for l in open(log)]
    for st in sorted({r["set"] for r in recs}):
        print("==", st)
        for k in KS:
            none = sorted((r["co"], r["br"], r["asa"]) for r in recs if r["set"] == st and r["method"] == "none"
                          and r["K"] == k)
            cos = [p[0] for p in none]
            for r in recs:
                if r["set"] != st or r["K"] != k or r["method"] == "none":
                    continue
                ok = cos[0] <= r["co"] <= cos[-1]
                dbr = r["br"] - np.interp(r["co"], cos, [p[1] for p in none]) if ok else float("nan")
                dasa = r["asa"] - np.interp(r["co"], cos, [p[2] for p in none]) if ok else float("nan")
                print(f"K={k} {r['method']:11s} c={r['c']:<5} k={r['k']:7.1f} BR {r['br']:.4f} ASA {r['asa']:.4f} "
                      f"CO {r['co']:.3f} | dBR {dbr:+.4f} dASA {dasa:+.4f}")


if __name__ == "__main__":
    run(sys.argv[2], sys.argv[3]) if sys.argv[1] == "run" else table(sys.argv[2])
