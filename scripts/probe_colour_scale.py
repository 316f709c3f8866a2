"""Probe (2026-12-06, fifth session; removed after, its finding in docs/compactness.md,
"A robust colour scale"): the clustering's colour divided by the channels' robust spread
(1.4826 MAD) instead of their standard deviation, and a mask on a fundus photo.

    python scripts/probe_colour_scale.py val      # BSDS500 val, SBD val, DSB2018 (benchmarks)
    python scripts/probe_colour_scale.py table    # the table of the val runs
    python scripts/probe_colour_scale.py retina   # skimage's retina: vessel recall, with and without a mask

The variant is switched on by LNSNET_PROBE_ROBUST=-0.3 (lnsnet.prepare._probe_robust, of
this commit only).
"""
import os
import subprocess
import sys

import numpy as np

OUT = os.environ.get("PROBE_OUT", "runs/colour-scale")
SETS = {"bsds": ["--split", "val"],
        "sbd": ["--dataset", "../shared/data/sbd", "--images-list", "../shared/data/sbd/splits/stutz_val_238.txt",
                "--ignore-label", "0"],
        "dsb": ["--dataset", "../shared/data/dsb2018-nuclei"]}


def val():
    for name, data in SETS.items():
        base = ["lnsnet", "benchmark", *data, "-k", "100,400", "--workers", "2", "--no-plots", "-q"]
        subprocess.run(base + ["--methods", "lnsnet,lnsnet:compactness=28,lnsnet:compactness=24",
                               "-o", f"{OUT}/{name}-base"], check=True)
        subprocess.run(base + ["--methods", "lnsnet", "-o", f"{OUT}/{name}-mad"], check=True,
                       env=dict(os.environ, LNSNET_PROBE_ROBUST="-0.3"))


def table():
    import csv

    for name in SETS:
        base = {(r["method"], r["k_asked"]): r for r in csv.DictReader(open(f"{OUT}/{name}-base/summary.csv"))}
        var = {(r["method"], r["k_asked"]): r for r in csv.DictReader(open(f"{OUT}/{name}-mad/summary.csv"))}
        for k in ("100", "400"):
            pts = sorted((float(base[(m, k)]["co"]), float(base[(m, k)]["br"]), float(base[(m, k)]["asa"]))
                         for m in ("lnsnet:compactness=24", "lnsnet:compactness=28", "lnsnet"))
            co, br, asa = (np.array(x) for x in zip(*pts))
            v, b = var[("lnsnet", k)], base[("lnsnet", k)]
            vco = float(v["co"])

            def at(y):  # the default's line at the variant's CO (linear, extended at the ends)
                i = 0 if vco <= co[1] else 1
                return y[i] + (y[i + 1] - y[i]) / (co[i + 1] - co[i]) * (vco - co[i])

            print(f"| {name} | {k} | {float(b['co']):.3f} / {float(b['br']):.4f} / {float(b['asa']):.4f} | "
                  f"{vco:.3f} / {float(v['br']):.4f} / {float(v['asa']):.4f} | "
                  f"{float(v['br']) - at(br):+.4f} | {float(v['asa']) - at(asa):+.4f} |")


def retina():
    import lnsnet
    from lnsnet.eval import metrics as M
    from skimage import data, filters, measure, morphology
    from skimage.segmentation import slic

    img = data.retina()
    img = img[::2, ::2][:512, :512] if max(img.shape[:2]) > 512 else img  # as the review took it (<= 512 a side)
    g = img[..., 1].astype(float)
    fov = img.sum(-1) > 40
    inner = morphology.erosion(fov, morphology.disk(8))
    th = morphology.black_tophat(g, morphology.disk(8))
    ves = morphology.remove_small_objects((th > filters.threshold_otsu(th[inner])) & inner, max_size=30)
    gt = measure.label(ves, background=-1, connectivity=1)  # vessels against the rest: a rough reference
    for k in (100, 400):
        rows = [("default", lnsnet.segment(img, k)),
                ("default, MAD colour scale", None),
                ("default, mask = the fundus", lnsnet.segment(img, k, mask=fov)),
                ("slic", slic(img, k, start_label=1)),
                ("slic, mask = the fundus", slic(img, k, start_label=1, mask=fov))]
        os.environ["LNSNET_PROBE_ROBUST"] = "-0.3"
        rows[1] = (rows[1][0], lnsnet.segment(img, k))
        del os.environ["LNSNET_PROBE_ROBUST"]
        for name, lab in rows:
            print(f"| {k} | {name} | {len(np.unique(lab[fov]))} | {M.boundary_recall(lab, gt, 1):.3f} | "
                  f"{M.compactness(lab):.3f} |")


if __name__ == "__main__":
    {"val": val, "table": table, "retina": retina}[sys.argv[1]]()
