"""3-D: a blur (segment's sigma, physical units) before the volume clustering, val synthetic volumes (probe)."""
import sys, itertools, numpy as np
sys.path.insert(0, "/work/main/scripts")
import lnsnet
from volumes import synthetic, KS
from lnsnet.eval.volumes import score_volume
vols = [synthetic(seed) for seed in range(3)]
sigmas = [float(x) for x in sys.argv[1].split(",")]
cs = [float(x) for x in sys.argv[2].split(",")]
for s, c in itertools.product(sigmas, cs):
    rows = []
    for vol, gt, sp in vols:
        for k in KS:
            lab = lnsnet.segment(vol, k, channel_axis=None, spacing=sp, compactness=c, sigma=s)
            r = score_volume(lab, gt, volume=vol, spacing=sp)
            rows.append((k, r["k"], r["asa"], r["br"], r["co"]))
    a = np.array(rows, float)
    okk = all(0.7 * K <= kk <= 1.3 * K for K, kk, *_ in rows)
    per_k = " ".join(f"K{int(K)}:{a[a[:,0]==K,2].mean():.4f}/{a[a[:,0]==K,3].mean():.3f}/{a[a[:,0]==K,4].mean():.3f}" for K in KS)
    print(f"sigma {s:g} c {c:g} kok {okk} ASA {a[:,2].mean():.4f} BR {a[:,3].mean():.4f} CO {a[:,4].mean():.3f} | {per_k}", flush=True)
