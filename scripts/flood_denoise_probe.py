"""Probe (issue 22, val only): what a denoising 3-D model could add to the boundary flood.
The flood on the generator's noise-free cell-wall volume (a perfect denoiser) against the
flood on the noisy one, both read at the same CO along the noisy one's compactness line
(0.03 ... 1, smooth 1), on the val walls of scripts/boundaries.py. Rule, written before it
ran: a denoising model is worth training only if the perfect one gains at least +0.02 BR
and +0.005 ASA at every K. Removed once written up.

    python scripts/flood_denoise_probe.py rows.jsonl
"""
import json
import sys

import numpy as np

sys.path.insert(0, "scripts")
import boundaries as B  # noqa: E402
from volumes import KS  # noqa: E402


def clean_walls(seed, shape=(32, 128, 128), spacing=(1.6, 1.0, 1.0)):
    """scripts/boundaries.py's walls(seed) before its noise: the same random draws."""
    from scipy import ndimage
    rng = np.random.default_rng(2000 + seed)
    cells = int(rng.integers(30, 70))
    pts = rng.random((cells, 3)) * (np.array(shape) * np.array(spacing))
    grid = np.stack(np.meshgrid(*[(np.arange(n) + 0.5) * s for n, s in zip(shape, spacing)], indexing="ij"), -1)
    lab, dist = B._bisector_distance(grid.reshape(-1, 3), pts)
    labels, dist = lab.reshape(shape).astype(np.int32), dist.reshape(shape)
    w = rng.uniform(1.5, 4.0)
    interior = rng.uniform(0.03, 0.3, cells + 1)[labels]
    peak = 0.5 + 0.4 * ndimage.gaussian_filter(rng.random(shape), 6) / 0.1
    peak = np.clip(0.45 + 0.4 * (peak - peak.mean()) / (peak.std() + 1e-9) * 0.5, 0.2, 1.0)
    clean = interior + peak * np.exp(-dist ** 2 / (2 * w ** 2))
    clean = ndimage.gaussian_filter(clean, np.array((0.6, 1.0, 1.0)) * rng.uniform(0.5, 2.0))
    return clean.astype(np.float32), labels


def main(log):
    from lnsnet.flood import segment_boundaries
    out = open(log, "a")
    for seed in range(3):
        noisy, gt, sp = B.walls(seed)
        clean, gt2 = clean_walls(seed)
        assert np.array_equal(gt, gt2)
        for k in KS:
            for name, vol in (("noisy", noisy), ("clean", clean)):
                for c in (0.03, 0.1, 0.2, 0.3, 0.5, 1.0):
                    lab = segment_boundaries(vol, k, compactness=c, smooth=1.0, spacing=sp)
                    s = B.score(lab, gt, vol, sp)
                    out.write(json.dumps({"seed": seed, "K": k, "vol": name, "c": c,
                                          **{a: float(s[a]) for a in ("asa", "br", "co", "k")}}) + "\n")
            out.flush()
        print(seed, flush=True)
    rows = [json.loads(l) for l in open(log)]
    for k in KS:
        line = f"K={k}"
        for c in (0.1, 0.2, 0.3):
            def mean(v, cc, a):
                return np.mean([r[a] for r in rows if r["K"] == k and r["vol"] == v and r["c"] == cc])
            pts = sorted((mean("noisy", cc, "co"), mean("noisy", cc, "br"), mean("noisy", cc, "asa"))
                         for cc in (0.03, 0.1, 0.2, 0.3, 0.5, 1.0))
            co = mean("clean", c, "co")
            dbr = mean("clean", c, "br") - np.interp(co, [p[0] for p in pts], [p[1] for p in pts])
            dasa = mean("clean", c, "asa") - np.interp(co, [p[0] for p in pts], [p[2] for p in pts])
            line += f" | c={c}: CO {co:.3f} dBR {dbr:+.4f} dASA {dasa:+.4f}"
        print(line)


if __name__ == "__main__":
    main(sys.argv[1])
