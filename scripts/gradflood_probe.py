"""Probe (issue 22, val only): the flood of lnsnet.flood on the volume's gradient magnitude
(a boundary map made from a region image) against the 3-D default clustering, on the val
families of scripts/volumes.py (synthetic Voronoi 0-2) and two synthetic nucleus volumes
(nuclei 10, 11; the confirmation's seeds 0-2 untouched). Rule, written before it ran: read
at the same CO as the default (interpolating the default's BR/ASA along its compactness
40/80/160/320 ... and 10/20), a flood setting pays if on each family its mean ASA and BR at
the default's CO are above the default's by +0.01 BR and +0.002 ASA. Removed once written up."""
import json, sys, time
import numpy as np
from scipy import ndimage
sys.path.insert(0, "scripts")
from volumes import KS, synthetic, nuclei  # noqa: E402


SIGMAS, CS, DEFAULT_CS = (0.7, 1.0, 1.5), (0.03, 0.1, 0.3, 1.0), (10, 20, 40, 80, 160)


def ggm(vol, sp, sigma):
    v = vol.astype(np.float32)
    v = (v - v.mean()) / (v.std() + 1e-9)
    return ndimage.gaussian_gradient_magnitude(v, [sigma / s for s in sp])


def main(path):
    import lnsnet
    from lnsnet.eval.volumes import score_volume
    out = open(path, "a")
    vols = [(f"voronoi_{i}", *synthetic(i)) for i in range(3)] + [(f"nuclei_{i}", *nuclei(i)) for i in (10, 11)]
    for name, vol, gt, sp in vols:
        maps = {s: ggm(vol, sp, s) for s in SIGMAS}
        for k in KS:
            for c in DEFAULT_CS:
                lab = lnsnet.segment(vol, k, channel_axis=None, spacing=sp, compactness=c)
                s = score_volume(lab, gt, spacing=sp)
                out.write(json.dumps(dict(set=name, K=k, method="default", c=c, **s)) + "\n")
            for sg, m in maps.items():
                for c in CS:
                    lab = lnsnet.segment(m, k, channel_axis=None, spacing=sp, boundaries="bright", compactness=c)
                    s = score_volume(lab, gt, spacing=sp)
                    out.write(json.dumps(dict(set=name, K=k, method=f"flood-ggm{sg}", c=c, **s)) + "\n")
            out.flush()
        print(name, flush=True)


def table(path):
    """dBR / dASA of each flood setting against the default's BR-CO and ASA-CO lines."""
    import collections
    rows=[json.loads(l) for l in open(path)]
    fam=lambda s: s.split('_')[0]
    agg=collections.defaultdict(list)
    for r in rows: agg[(fam(r['set']), r['method'], r['c'], r['K'])].append(r)
    def m(f, meth, c, K, a): return np.mean([r[a] for r in agg[(f,meth,c,K)]])
    for f in ('voronoi','nuclei'):
        print('==', f)
        for K in (100,200,500,1000,2000):
            d=[(m(f,'default',c,K,'co'), m(f,'default',c,K,'br'), m(f,'default',c,K,'asa')) for c in (5,10,20,40,80,160,320)]
            d.sort()
            cos=[x[0] for x in d]; brs=[x[1] for x in d]; asas=[x[2] for x in d]
            co40=m(f,'default',40,K,'co')
            line=f"K={K} default40 co={co40:.3f} br={m(f,'default',40,K,'br'):.4f} asa={m(f,'default',40,K,'asa'):.4f} |"
            for meth in ('flood-ggm0.7','flood-ggm1.0','flood-ggm1.5'):
                for c in (0.03,0.1,0.3,1.0,2.0,4.0,8.0):
                    co=m(f,meth,c,K,'co'); br=m(f,meth,c,K,'br'); asa=m(f,meth,c,K,'asa')
                    if cos[0] <= co <= cos[-1]:
                        dbr = br-np.interp(co, cos, brs); dasa = asa-np.interp(co, cos, asas)
                        line += f" {meth[-3:]}/{c}: co{co:.2f} dBR{dbr:+.3f} dASA{dasa:+.4f};"
            print(line)


if __name__ == "__main__":
    if sys.argv[-1] == "--table":
        table(sys.argv[1])
        sys.exit()
    if len(sys.argv) > 2:  # the extension after the first grid: larger compactness, sigma 1, no default rows
        SIGMAS, CS, DEFAULT_CS = (1.0,), (2.0, 4.0, 8.0), (5, 320)
    main(sys.argv[1])
