"""Superpixels on a real multichannel image: H&E histology as its stain channels.

The colour images of DSB2018 (``../shared/data/dsb2018-nuclei``, the 12 with colour
content: H&E and brightfield) are unmixed into their hematoxylin and eosin optical
densities (``skimage.color.rgb2hed``, Ruifrok-Johnston colour deconvolution) and
segmented as a 2-channel image (``lnsnet.segment(..., convert2lab=False)``: each channel
standardised, as the network's CIELAB input is), beside the same images as RGB (CIELAB) and
scikit-image's ``slic`` on the same two channels. Scored against the nucleus instance
maps (background a region too): ASA, boundary recall (r=1), compactness, k delivered.

    python scripts/multichannel.py [--data ../shared/data/dsb2018-nuclei] [-k 100 400] [--out docs/multichannel.md]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/dsb2018-nuclei")
    ap.add_argument("-k", type=int, nargs="+", default=[100, 400])
    ap.add_argument("--out", type=Path, default=None, help="write the table (markdown) here")
    args = ap.parse_args(argv)

    from skimage.color import rgb2hed
    from skimage.segmentation import slic

    import lnsnet
    from lnsnet.eval.datasets import read_label_file, read_rgb8
    from lnsnet.eval.metrics import score

    with open(args.data / "manifest.tsv") as fh:
        names = [r["name"] for r in csv.DictReader(fh, delimiter="\t") if r["grayscale_content"] == "0"]
    model = lnsnet.load_model()
    methods = {
        "LNS-Net on RGB (CIELAB), default": lambda rgb, he, k: lnsnet.segment(rgb, k, model=model),
        "LNS-Net on H, E (2 channels)": lambda rgb, he, k: lnsnet.segment(he, k, model=model, convert2lab=False),
        "same, `model=none` (the 2 channels, no network)": lambda rgb, he, k: lnsnet.segment(
            he, k, model="none", convert2lab=False),
        "slic on H, E, compactness 0.1": lambda rgb, he, k: slic(he, k, compactness=0.1, convert2lab=False),
        "slic on H, E, compactness 1": lambda rgb, he, k: slic(he, k, compactness=1.0, convert2lab=False),
        "slic on RGB, default (compactness 10)": lambda rgb, he, k: slic(rgb, k),
    }
    rows = []
    for k in args.k:
        scores = {m: [] for m in methods}
        for name in names:
            rgb = read_rgb8(args.data / "images" / f"{name}.png")
            he = rgb2hed(rgb)[:, :, :2]  # hematoxylin, eosin optical densities
            gt = read_label_file(args.data / "labels" / f"{name}.png")
            for m, fn in methods.items():
                s = score(fn(rgb, he, k), gt)
                scores[m].append([s["asa_best"], s["br_best"], s["co"], s["n_segments"]])
        for m, v in scores.items():
            asa, br, co, n = np.mean(v, 0)
            rows.append(f"| {m} | {k} | {n:.1f} | {asa:.4f} | {br:.4f} | {co:.3f} |")
            print(rows[-1], flush=True)
    table = "\n".join(["| method | K | k delivered | ASA | BR | CO |", "|---|---:|---:|---:|---:|---:|"] + rows)
    if args.out:
        args.out.write_text(table + "\n")
    print(f"{len(names)} images")


if __name__ == "__main__":
    main()
