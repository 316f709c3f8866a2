"""Probe (issue 22): would a 3-D model that denoises its input beat it? The generator's own
noise-free volume (an oracle denoiser) and a TV denoiser in the 3-D clustering, against the
noisy input at the same CO, on the val families (synthetic Voronoi 0-2, nuclei 10-11).

    python volume_denoise_probe.py rows.jsonl          # about 3 minutes on 2 cores
    python volume_denoise_probe.py rows.jsonl --table
"""
import json
import sys

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

def synthetic_pair(seed, shape=(40, 96, 96), spacing=(2.0, 1.0, 1.0), regions=60):
    rng = np.random.default_rng(seed)
    extent = np.array(shape) * np.array(spacing)
    pts = rng.random((regions, 3)) * extent
    grid = np.stack(np.meshgrid(*[(np.arange(n) + 0.5) * s for n, s in zip(shape, spacing)], indexing="ij"), -1)
    labels = cKDTree(pts).query(grid.reshape(-1, 3))[1].reshape(shape)
    levels = rng.uniform(0.15, 0.85, regions)
    texture = ndimage.gaussian_filter(rng.normal(0, 1, shape), 2.0)
    clean = levels[labels] + 0.06 * texture / texture.std()
    vol = clean + rng.normal(0, 0.04, shape)
    return np.clip(vol, 0, 1).astype(np.float32), np.clip(clean, 0, 1).astype(np.float32), labels.astype(np.int32), spacing

def nuclei_pair(seed, shape=(48, 128, 128), spacing=(2.0, 1.0, 1.0), count=90):
    rng = np.random.default_rng(1000 + seed)
    extent = np.array(shape) * np.array(spacing)
    grid = np.stack(np.meshgrid(*[(np.arange(n) + 0.5) * s for n, s in zip(shape, spacing)], indexing="ij"), -1)
    labels = np.zeros(shape, np.int32)
    for i in range(1, count + 1):
        centre, radii = rng.random(3) * extent, rng.uniform(6, 14, 3)
        rot = np.linalg.qr(rng.normal(size=(3, 3)))[0]
        inside = (((grid - centre) @ rot / radii) ** 2).sum(-1) <= 1
        labels[inside & (labels == 0)] = i
    levels = np.concatenate([[0.08], rng.uniform(0.3, 0.9, count)])
    texture = ndimage.gaussian_filter(rng.normal(0, 1, shape), 1.5)
    clean = levels[labels] * (1 + 0.15 * texture / texture.std() * (labels > 0))
    clean = ndimage.gaussian_filter(clean, (0.6, 1.2, 1.2))
    noisy = rng.poisson(np.clip(clean, 0, None) * 60) / 60 + rng.normal(0, 0.02, shape)
    return (np.clip(noisy, 0, 1) * 255).round().astype(np.uint8), np.clip(clean, 0, 1).astype(np.float32), labels, spacing

def variants(noisy, clean):
    from skimage.restoration import denoise_tv_chambolle
    x = noisy.astype(np.float32) / (255 if noisy.dtype == np.uint8 else 1)
    return {"input": noisy, "clean": clean, "tv": denoise_tv_chambolle(x, weight=0.05).astype(np.float32)}


def grid(path):
    from lnsnet.eval.volumes import score_volume
    from lnsnet.volume import segment_volume
    vols = [("syn%d" % s,) + synthetic_pair(s) for s in range(3)] + [("nuc%d" % s,) + nuclei_pair(s) for s in (10, 11)]
    with open(path, "a") as out:
        for name, noisy, clean, gt, sp in vols:
            for vname, v in variants(noisy, clean).items():
                for es in (1.0, 4.0, 16.0):
                    for c in (40, 160, 640, 2560):
                        for K in (100, 500, 2000):
                            lab = segment_volume(v, K, channel_axis=None, spacing=sp, compactness=c, edge_scale=es)
                            s = score_volume(lab, gt, volume=noisy, spacing=sp)
                            out.write(json.dumps(dict(vol=name, var=vname, es=es, c=c, K=K, k=int(s["k"]), asa=s["asa"],
                                                      br=s["br"], co=s["co"])) + "\n")


def table(path):
    import collections
    rows = [json.loads(l) for l in open(path)]
    agg = collections.defaultdict(list)
    for r in rows: agg[(r["vol"][:3], r["var"], r["es"], r["c"], r["K"])].append(r)
    m = {k: {q: float(np.mean([r[q] for r in v])) for q in ("asa", "br", "co", "k")} for k, v in agg.items()}
    for fam in ("syn", "nuc"):
        for K in (100, 500, 2000):
            inp = sorted([v for (f, var, es, c, KK), v in m.items() if f == fam and var == "input" and KK == K], key=lambda v: v["co"])
            co_i = np.array([v["co"] for v in inp])
            d = m[(fam, "input", 1.0, 40, K)]
            for var in ("tv", "clean"):
                best = None
                for (f, vv, es, c, KK), v in m.items():
                    if f != fam or vv != var or KK != K or not (co_i[0] <= v["co"] <= co_i[-1]): continue
                    a = np.interp(v["co"], co_i, [x["asa"] for x in inp]); b = np.interp(v["co"], co_i, [x["br"] for x in inp])
                    cand = (abs(v["co"] - d["co"]), es, c, v, v["asa"] - a, v["br"] - b)
                    if best is None or cand[0] < best[0]: best = cand
                if best is None: print(fam, K, var, "no setting reaches the input's CO range"); continue
                _, es, c, v, da, db = best
                print(f"{fam} K={K} default CO {d['co']:.3f} | {var} es={es:g} c={c:g} CO {v['co']:.3f} k {v['k']:.0f}: dASA {da:+.4f} dBR {db:+.4f} at the same CO")


if __name__ == "__main__":
    (table if "--table" in sys.argv else grid)(sys.argv[1])
