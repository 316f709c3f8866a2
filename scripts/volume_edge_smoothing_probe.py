"""3-D edge weights from Gaussian-smoothed features (probe, issue 22): python scripts/volume_edge_smoothing_probe.py SIGMA COMPACTNESS[,..] val|conf"""
import sys, numpy as np
sys.path.insert(0, __import__("os").path.dirname(__file__))
import volumes as V
import lnsnet.volume as LV
from scipy.ndimage import gaussian_filter
from lnsnet.eval.volumes import score_volume
from skimage.segmentation import slic
import lnsnet
sig = float(sys.argv[1]); comps = [float(c) for c in sys.argv[2].split(",")]; fam = sys.argv[3]
orig = LV.edge_weights_3d
state = {}
def patched(f, es):
    if sig > 0:
        sp = state["sp"]
        f = np.stack([gaussian_filter(f[..., c], [sig / s for s in sp]) for c in range(f.shape[3])], -1).astype(np.float32)
    return orig(np.ascontiguousarray(f), es)
LV.edge_weights_3d = patched
KS = (100, 200, 500, 1000, 2000)
for vi in range(3):
    vol, gt, sp = (V.synthetic(vi) if fam == "val" else V.nuclei(vi)); state["sp"] = sp
    for c in comps:
        for k in KS:
            lab = lnsnet.segment(vol, k, channel_axis=None, spacing=sp, compactness=c)
            s = score_volume(lab, gt, volume=vol, spacing=sp)
            print(f"{fam} v{vi} sig={sig} c={c} K={k} k={s['k']} asa={s['asa']:.4f} br={s['br']:.4f} co={s['co']:.3f}", flush=True)
    if sig == 0 and comps[0] == 40:
        for k in KS:
            lab = slic(vol, k, compactness=10, spacing=sp, channel_axis=None, start_label=1)
            s = score_volume(lab, gt, volume=vol, spacing=sp)
            print(f"{fam} v{vi} slic c=10 K={k} k={s['k']} asa={s['asa']:.4f} br={s['br']:.4f} co={s['co']:.3f}", flush=True)
