"""Probe (2026-12-05): the blur gated by the contour head (raw pixels where B is high) for the preset fast;
usage: python scripts/probe_gated_blur.py synth|bsds|sbd|dsb GAIN|none. Finding in docs/learning.md."""
import sys, json, numpy as np, torch, lnsnet
from scipy import ndimage
from lnsnet.prepare import prepare, clustering_colour
from lnsnet.io import to_float_rgb
torch.set_num_threads(1)
net = lnsnet.load_model()
def gated(img, gain):
    rgb = to_float_rgb(img) if img.ndim == 3 else np.repeat(to_float_rgb(img)[..., None] if to_float_rgb(img).ndim==2 else to_float_rgb(img), 3, 2)
    blur = np.stack([ndimage.gaussian_filter(rgb[..., c], 0.8, mode="reflect") for c in range(3)], -1)
    p = prepare(rgb, blur=0.8)
    with torch.inference_mode():
        b = net.contours(clustering_colour(torch.from_numpy(p.x)[None], [p.colour_scale]))[0, 0].numpy()
    w = np.clip(gain * b, 0, 1)[..., None]
    return (w * rgb + (1 - w) * blur).astype(np.float32)
def seg(img, k, gain, spec="fast"):
    if gain is None: return lnsnet.segment(img, k, model=net, clustering=spec)
    return lnsnet.segment(gated(img, gain), k, model=net, clustering=spec + ":blur=0")
if __name__ == "__main__":
    mode = sys.argv[1]; gain = None if sys.argv[2] == "none" else float(sys.argv[2])
    if mode == "synth":
        def rows(lab): return (lab[:, 43:46] != lab[:, 44:47]).any(1).mean()
        on = []
        for s in range(20):
            rng = np.random.default_rng(s); img = np.zeros((60, 90, 3)); img[:, 45:] = 0.6
            img = np.clip(img + rng.normal(0, 0.08, img.shape), 0, 1)
            on.append(rows(seg(img, 24, gain)))
        from lnsnet.eval.metrics import score
        rng = np.random.default_rng(0); h, w = 96, 128; yy, xx = np.mgrid[:h, :w]
        inside = xx > w / 2 + 12 * np.sin(yy / 9.0)
        rgb = np.repeat(np.where(inside[:, :, None], 0.65, 0.35), 3, axis=2).astype(np.float32)
        noise = rng.integers(-2, 3, (h, w)).astype(np.float32) / 255; rgb[..., 0] += noise; rgb[..., 2] -= noise
        s = score(seg(rgb, 24, gain), [inside.astype(int)])
        print("gain", gain, "noisy %.3f %.3f" % (np.mean(on), min(on)), "chroma ASA %.4f CO %.3f" % (s["asa_best"], s["co"]))
    else:
        sys.argv = [sys.argv[0]]
        sys.path.insert(0, "scripts")
        from contour_grid_val import dataset, KS
        from lnsnet.eval.metrics import score
        ds, n = dataset(mode, "/work/shared/data")
        spec = "fast" if len(sys.argv) < 4 else sys.argv[3]
        res = {k: [] for k in KS}
        for i in range(n):
            s = ds[i]
            for k in KS:
                sc = score(seg(s.image, k, gain), s.ground_truths, s.image, ignore=getattr(ds, "ignore_label", None))
                res[k].append([sc["br_best"], sc["asa_best"], sc["co"]])
        r = {f"{m}{k}": float(np.mean(np.array(res[k])[:, j])) for k in KS for j, m in enumerate(("br", "asa", "co"))}
        print(json.dumps({"set": mode, "gain": gain, **r}), flush=True)
