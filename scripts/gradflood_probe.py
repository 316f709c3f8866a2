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


if __name__ == "__main__":
    if len(sys.argv) > 2:  # the extension after the first grid: larger compactness, sigma 1, no default rows
        SIGMAS, CS, DEFAULT_CS = (1.0,), (2.0, 4.0, 8.0), (5, 320)
    main(sys.argv[1])
