"""Probe (issue 22, val only): the boundary flood's seed search as a fraction of the cell:
the lowest voxel within +-max(1, cell side // D) voxels of each cell's centre along each
axis (D = 4 or 6; the shipped search is +-1), after fixed windows 5 and 7 failed (gains at
small K, losses at K = 1000: git show 568fbe0~1:scripts/seedwindow_probe.py). Rule,
written before it ran: as then (+0.005 ASA and no BR lost at every K at the shipped
search's CO on the val walls); if met, the same on a fresh wall family (seeds 10-12) before
any adoption. Removed once written up.

Val result: D = 6 never worse (gains at K = 100 / 200, the shipped search from K = 500),
D = 4 loses at K = 1000; the rule (a gain at every K) failed. A second rule, written after
the val run and before the fresh family's (seeds 10-12, --fresh): D = 6 is adopted if there,
at the shipped search's CO and at every K, dBR >= 0 and dASA >= 0 (to 4 decimals) and the
mean dASA over the K is at least +0.005; then the compactness and smoothing are chosen again
on val by scripts/boundaries.py and the ovule is read once.

    python scripts/seedfrac_probe.py rows.jsonl && python scripts/seedfrac_probe.py rows.jsonl --table &&
    python scripts/seedfrac_probe.py rows.jsonl --fresh && python scripts/seedfrac_probe.py rows.jsonl --table --fresh
"""
import json
import math
import sys

import numba as nb
import numpy as np

sys.path.insert(0, "scripts")
import boundaries as B  # noqa: E402
from volumes import KS  # noqa: E402

CS = (0.1, 0.2, 0.3, 0.5)


@nb.njit(cache=True)
def _seeds_h(v, valid, zc, yc, xc, z0, z1, y0, y1, x0, x1, hz, hy, hx, out):
    Z, Y, X = v.shape
    n = 0
    for a in range(zc.shape[0]):
        for b in range(yc.shape[0]):
            for c in range(xc.shape[0]):
                best = (zc[a] * Y + yc[b]) * X + xc[c]
                bv = v[zc[a], yc[b], xc[c]]
                for z in range(max(z0[a], zc[a] - hz), min(z1[a], zc[a] + hz + 1)):
                    for y in range(max(y0[b], yc[b] - hy), min(y1[b], yc[b] + hy + 1)):
                        for x in range(max(x0[c], xc[c] - hx), min(x1[c], xc[c] + hx + 1)):
                            if v[z, y, x] < bv:
                                bv = v[z, y, x]
                                best = (z * Y + y) * X + x
                out[n] = best
                n += 1


def flood(vol, k, sp, c, div):
    from lnsnet import flood as F
    from lnsnet.volume import volume_grid
    v = F.boundary_map(vol, "bright", sp, None, 1.0)
    cells, step = volume_grid(vol.shape, k, sp)
    bounds = [F._splits(n, c_) for n, c_ in zip(vol.shape, cells)]
    centres = [((s + e - 1) // 2).astype(np.int64) for s, e in bounds]
    seeds = np.empty(cells[0] * cells[1] * cells[2], np.int64)
    hz, hy, hx = (1 if div == 0 else max(1, (n // c_) // div) for n, c_ in zip(vol.shape, cells))
    _seeds_h(v, np.ones(vol.shape, np.bool_), centres[0], centres[1], centres[2], bounds[0][0], bounds[0][1],
             bounds[1][0], bounds[1][1], bounds[2][0], bounds[2][1], hz, hy, hx, seeds)
    labels = np.full(v.size, -1, np.int32)
    best = np.full(v.size, np.inf, np.float32)
    F._flood(v.ravel(), np.ones(vol.shape, np.bool_), seeds, *map(float, sp), c / step, labels, best)
    return labels.reshape(vol.shape) + 1


def main(log, seeds=(0, 1, 2)):
    out = open(log, "a")
    for seed in seeds:
        vol, gt, sp = B.walls(seed)
        for k in KS:
            for c in CS:
                for div in (0, 4, 6):
                    s = B.score(flood(vol, k, sp, c, div), gt, vol, sp)
                    out.write(json.dumps({"seed": seed, "K": k, "c": c, "w": div,
                                          **{a: float(s[a]) for a in ("asa", "br", "co", "k")}}) + "\n")
            out.flush()
        print(seed, flush=True)


def table(log):
    rows = [json.loads(l) for l in open(log)]
    if "--fresh" in sys.argv:
        rows = [r for r in rows if r["seed"] >= 10]
    else:
        rows = [r for r in rows if r["seed"] < 10]

    def m(k, c, w, a):
        return float(np.mean([r[a] for r in rows if r["K"] == k and r["c"] == c and r["w"] == w]))
    for w in (4, 6):
        line, ok, gains = f"cell side / {w}:", True, []
        for k in KS:
            base = sorted((m(k, c, 0, "co"), m(k, c, 0, "br"), m(k, c, 0, "asa")) for c in CS)
            co = m(k, 0.2, w, "co")
            if not base[0][0] <= co <= base[-1][0]:
                line += f" K={k} CO {co:.3f} outside;"
                ok = False
                continue
            dbr = m(k, 0.2, w, "br") - np.interp(co, [b[0] for b in base], [b[1] for b in base])
            dasa = m(k, 0.2, w, "asa") - np.interp(co, [b[0] for b in base], [b[2] for b in base])
            if "--fresh" in sys.argv:
                ok &= round(dasa, 4) >= 0 and round(dbr, 4) >= 0
                gains.append(dasa)
            else:
                ok &= dasa >= 0.005 and dbr >= 0
            line += f" K={k} CO {co:.3f} dBR {dbr:+.4f} dASA {dasa:+.4f};"
        if "--fresh" in sys.argv:
            ok &= len(gains) == len(KS) and float(np.mean(gains)) >= 0.005
            line += f" mean dASA {np.mean(gains):+.4f}"
        print(("MEETS " if ok else "fails ") + line)


if __name__ == "__main__":
    if "--table" in sys.argv:
        table(sys.argv[1])
    else:
        main(sys.argv[1], (10, 11, 12) if "--fresh" in sys.argv else (0, 1, 2))
