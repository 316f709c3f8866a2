"""Probe (issue 22, a learned 3-D contour signal's ceiling): does a noise-robust edge signal
in the 3-D clustering's edge weight beat the input's own one-voxel steps at the same CO?

Rule written before running: on val (synthetic Voronoi volumes, seeds 0-2, scripts/volumes.py),
each signal run at compactness 20 / 40 / 80 and read at the CO the default (one-voxel steps)
delivers at compactness 40 (linear in CO); it pays if BR is higher by >= 0.01 on average over
the three volumes at every K (100, 500, 2000) with ASA no more than 0.002 lower. Only then is
it confirmed once on the synthetic nuclei (seeds 0-2) and considered for a distilled head.

    python scripts/probe_edges3d.py [--confirm]
"""
import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
import volumes as VS  # noqa: E402

import lnsnet  # noqa: E402
import lnsnet.volume as V  # noqa: E402
from lnsnet.eval.volumes import score_volume  # noqa: E402

KS = (100, 500, 2000)
CS = (20.0, 40.0, 80.0)
ORIGINAL = V.edge_weights_3d


def smoothed_gradient(vol, spacing, sigma):
    """|grad(G_sigma * v)|^2 of the standardised volume, sigma in units of the finest axis."""
    v = (vol - vol.mean()) / (vol.std() + 1e-12)
    fine = min(spacing)
    sig = [sigma * fine / s for s in spacing]
    return sum(ndimage.gaussian_filter(v.astype(np.float32), sig, order=o) ** 2 * (1.0 / s) ** 2 * fine ** 2
               for o, s in (((1, 0, 0), spacing[0]), ((0, 1, 0), spacing[1]), ((0, 0, 1), spacing[2])))


def weights_from(g, edge_scale=1.0):
    g = g.astype(np.float32)
    ref = V.edge_reference(g)
    return np.exp(-g / (ref * edge_scale)).astype(np.float32) if ref > 1e-12 else np.ones_like(g)


def run(vol, k, spacing, c, signal):
    if signal == "steps":
        V.edge_weights_3d = ORIGINAL
    else:
        sigma = float(signal.split("=")[1])
        w = weights_from(smoothed_gradient(vol.astype(np.float32), spacing, sigma))
        V.edge_weights_3d = lambda src, es: w.copy()
    try:
        return lnsnet.segment(vol, k, channel_axis=None, spacing=spacing, compactness=c)
    finally:
        V.edge_weights_3d = ORIGINAL


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--confirm", action="store_true")
    ap.add_argument("--signals", default="steps,sigma=0.7,sigma=1.0,sigma=1.5")
    a = ap.parse_args()
    vols = [VS.nuclei(s) for s in range(3)] if a.confirm else [VS.synthetic(s) for s in range(3)]
    signals = a.signals.split(",")
    rows = []
    for vi, (vol, gt, sp) in enumerate(vols):
        for k in KS:
            for sig in signals:
                for c in CS:
                    lab = run(vol, k, sp, c, sig)
                    s = score_volume(lab, gt, volume=vol, ignore=None, spacing=sp)
                    rows.append(dict(**s, vol=vi, delivered=s["k"], signal=sig, c=c) | {"k": k})
                    print(vi, k, sig, c, {m: round(s[m], 4) for m in ("asa", "br", "co", "k")}, flush=True)
    print("\nread at the CO of 'steps' at compactness 40 (mean over volumes):")
    for k in KS:
        for sig in signals[1:]:
            d_br, d_asa, n = 0.0, 0.0, 0
            for vi in range(len(vols)):
                ref = [r for r in rows if r["vol"] == vi and r["k"] == k and r["signal"] == "steps" and r["c"] == 40.0][0]
                pts = [r for r in rows if r["vol"] == vi and r["k"] == k and r["signal"] == sig]
                at = VS.at_co(pts, ref["co"])
                if at is None:
                    print(f"  K={k} {sig} vol {vi}: CO {ref['co']:.3f} outside its range")
                    continue
                d_br += at["br"] - ref["br"]
                d_asa += at["asa"] - ref["asa"]
                n += 1
            if n:
                print(f"  K={k} {sig}: dBR {d_br / n:+.4f}  dASA {d_asa / n:+.4f}  ({n} volumes)")


if __name__ == "__main__":
    main()
