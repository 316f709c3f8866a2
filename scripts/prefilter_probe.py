"""Probe: the preset blur replaced by a 3x3 median per channel (edge-preserving);
mode "cwm": the centre counted `cw` times (a centre-weighted median)."""
import numpy as np, scipy.ndimage as ndi
STATE = {"on": True, "mode": "median", "cw": 3}
_orig = ndi.gaussian_filter
def cwm(img, cw):
    p = np.pad(img, ((1, 1), (1, 1), (0, 0)), mode="reflect")
    h, w = img.shape[:2]
    st = [p[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)] + [img] * (cw - 1)
    return np.median(np.stack(st, -1), -1).astype(img.dtype)
def gf(input, sigma, *a, **k):
    if STATE["on"] and isinstance(sigma, tuple) and len(sigma) == 3 and sigma[2] == 0 and np.ndim(input) == 3 and sigma[0] > 0:
        if STATE["mode"] == "median":
            return ndi.median_filter(input, size=(3, 3, 1), mode="reflect")
        return cwm(np.asarray(input), STATE["cw"])
    return _orig(input, sigma, *a, **k)
ndi.gaussian_filter = gf  # (replaced by gf2 below)

def bilateral(img, sd=0.8, k=2.0, r=2):
    """Joint (RGB-distance) bilateral filter: spatial Gaussian sd px (radius r), range
    Gaussian of sd_r = k * the median joint step to the right-hand neighbour."""
    img = np.asarray(img, np.float32)
    h, w = img.shape[:2]
    step = np.sqrt(((img[:, 1:] - img[:, :-1]) ** 2).sum(-1))
    sr = k * float(np.median(step))
    p = np.pad(img, ((r, r), (r, r), (0, 0)), mode="symmetric")
    num = np.zeros_like(img); den = np.zeros((h, w, 1), np.float32)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            q = p[r + dy:r + dy + h, r + dx:r + dx + w]
            ws = np.exp(-(dy * dy + dx * dx) / (2 * sd * sd))
            if sr > 0:
                wr = np.exp(-((q - img) ** 2).sum(-1, keepdims=True) / (2 * sr * sr))
            else:
                wr = (((q - img) ** 2).sum(-1, keepdims=True) == 0).astype(np.float32)
            num += ws * wr * q; den += ws * wr
    return (num / den).astype(np.float32)

def gf2(input, sigma, *a, **k):
    if STATE["on"] and STATE["mode"] == "bilateral" and isinstance(sigma, tuple) and len(sigma) == 3 and sigma[2] == 0 and np.ndim(input) == 3 and sigma[0] > 0:
        return bilateral(input, sd=sigma[0], k=STATE["k"])
    return gf(input, sigma, *a, **k)
ndi.gaussian_filter = gf2


# --- the val runner (2026-12-05 probe; finding in docs/learning.md) ---
# python scripts/prefilter_probe.py --set bsds|sbd|dsb --spec fast:compactness=32 --mode cwm|median|bilateral-2|gauss --log l.jsonl
if __name__ == "__main__":
    ap = argparse.ArgumentParser(); ap.add_argument("--set"); ap.add_argument("--spec"); ap.add_argument("--log")
    ap.add_argument("--mode", default="cwm"); ap.add_argument("--data", default="../shared/data")
    a = ap.parse_args()
    import os, sys, torch, lnsnet
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from contour_grid_val import dataset, KS
    from lnsnet.eval.metrics import score
    STATE.update(on=a.mode != "gauss", mode=a.mode.split("-")[0], k=float(a.mode.split("-")[1]) if "-" in a.mode else 2.0)
    torch.set_num_threads(1)
    ds, n = dataset(a.set, a.data)
    net = lnsnet.load_model("bsds500")
    res = {k: [] for k in KS}
    for i in range(n):
        s = ds[i]
        for k in KS:
            sc = score(lnsnet.segment(s.image, k, model=net, clustering=a.spec), s.ground_truths, s.image, ignore=getattr(ds, "ignore_label", None))
            res[k].append([sc["br_best"], sc["asa_best"], sc["co"], sc["n_segments"]])
    rec = {"set": a.set, "spec": a.spec, "mode": a.mode, **{f"{m}{k}": float(np.mean(np.array(res[k])[:, j])) for k in KS for j, m in enumerate(("br", "asa", "co", "k"))}}
    open(a.log, "a").write(json.dumps(rec) + "\n"); print(json.dumps(rec), flush=True)
