"""Thin the head's contour map before the factor: directional non-maximum suppression of B
(along its own gradient), then a max filter of `dil` px; off-ridge pixels keep `keep` * B."""
import numpy as np, torch, torch.nn.functional as F
import lnsnet.inference as inf
from lnsnet.model.contour import contour_factor
STATE = {"dil": 1, "keep": 0.0, "on": True}
orig = inf._contour_factors

def thin(b):  # b (B, H, W)
    x = b[:, None]
    gx = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), torch.tensor([[[[-1., 0, 1], [-2, 0, 2], [-1, 0, 1]]]]))
    gy = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), torch.tensor([[[[-1., -2, -1], [0, 0, 0], [1, 2, 1]]]]))
    ang = torch.atan2(gy, gx)[:, 0]
    # quantise to 4 directions: neighbours along the gradient
    q = torch.round(ang / (np.pi / 4)).long() % 4
    p = F.pad(x, (1, 1, 1, 1), mode="replicate")[:, 0]
    H, W = b.shape[-2:]
    c = p[:, 1:-1, 1:-1]
    nb = {0: (p[:, 1:-1, 2:], p[:, 1:-1, :-2]), 1: (p[:, 2:, 2:], p[:, :-2, :-2]),
          2: (p[:, 2:, 1:-1], p[:, :-2, 1:-1]), 3: (p[:, 2:, :-2], p[:, :-2, 2:])}
    keep = torch.zeros_like(b, dtype=torch.bool)
    for d, (a1, a2) in nb.items():
        keep |= (q == d) & (c >= a1) & (c >= a2)
    ridge = torch.where(keep, b, torch.zeros_like(b))
    if STATE["dil"] > 0:
        k = 2 * STATE["dil"] + 1
        ridge = F.max_pool2d(ridge[:, None], k, 1, STATE["dil"])[:, 0]
    return torch.maximum(ridge, STATE["keep"] * b)

def cf(net, colour, options, mask, dev):
    if not STATE["on"] or options.contour <= 0 or options.compactness <= 0 or getattr(net, "contour_head", None) is None:
        return orig(net, colour, options, mask, dev)
    b = thin(net.contours(colour.to(dev))[:, 0].float())
    return contour_factor(b, options.contour, None if mask is None else torch.from_numpy(mask).to(dev))
inf._contour_factors = cf


# --- the val runner (2026-12-05 probe; finding in docs/learning.md) -------------------------
# python scripts/thin_contour_probe.py --set bsds|sbd|dsb --spec compact --log l.jsonl [--thin 0]
if __name__ == "__main__":
    import argparse, json, os, sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import lnsnet
    from contour_grid_val import dataset, KS
    from lnsnet.eval.metrics import score
    ap = argparse.ArgumentParser(); ap.add_argument("--set"); ap.add_argument("--spec"); ap.add_argument("--log")
    ap.add_argument("--thin", type=int, default=1); ap.add_argument("--data", default="../shared/data")
    a = ap.parse_args()
    STATE.update(on=bool(a.thin), dil=0, keep=0.0)
    torch.set_num_threads(1)
    ds, n = dataset(a.set, a.data)
    net = lnsnet.load_model("bsds500")
    res = {k: [] for k in KS}
    for i in range(n):
        s = ds[i]
        for k in KS:
            sc = score(lnsnet.segment(s.image, k, model=net, clustering=a.spec), s.ground_truths, s.image,
                       ignore=getattr(ds, "ignore_label", None))
            res[k].append([sc["br_best"], sc["asa_best"], sc["co"], sc["n_segments"]])
    rec = {"set": a.set, "spec": a.spec, "thin": a.thin, **{f"{m}{k}": float(np.mean(np.array(res[k])[:, j]))
                                                           for k in KS for j, m in enumerate(("br", "asa", "co", "k"))}}
    open(a.log, "a").write(json.dumps(rec) + "\n"); print(json.dumps(rec), flush=True)
