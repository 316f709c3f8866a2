"""Probe (2026-12-05): the preset fast with an edge-stopping diffusion guided by the contour head in place of
its 0.8 px blur. usage: python p.py synth|bsds|sbd|dsb ITERS [KAPPA] [SPEC]"""
import sys, json, numpy as np, torch, lnsnet
from lnsnet.prepare import prepare, clustering_colour
from lnsnet.io import to_float_rgb
torch.set_num_threads(1)
net = lnsnet.load_model()
def diffused(img, iters, kappa):
    rgb = to_float_rgb(img)
    if rgb.ndim == 2: rgb = np.repeat(rgb[..., None], 3, 2)
    rgb = rgb[..., :3].astype(np.float32)
    p = prepare(rgb, blur=0.8)
    with torch.inference_mode():
        b = net.contours(clustering_colour(torch.from_numpy(p.x)[None], [p.colour_scale]))[0, 0].numpy()
    gx = np.exp(-np.maximum(b[:, 1:], b[:, :-1]) / kappa)[..., None]
    gy = np.exp(-np.maximum(b[1:], b[:-1]) / kappa)[..., None]
    u = rgb.copy()
    for _ in range(iters):
        fx = gx * (u[:, 1:] - u[:, :-1]); fy = gy * (u[1:] - u[:-1])
        d = np.zeros_like(u)
        d[:, :-1] += fx; d[:, 1:] -= fx; d[:-1] += fy; d[1:] -= fy
        u += 0.2 * d
    return u
def seg(img, k, iters, kappa, spec="fast", **kw):
    if iters == 0: return lnsnet.segment(img, k, model=net, clustering=spec, **kw)
    return lnsnet.segment(diffused(img, iters, kappa), k, model=net, clustering=spec + ":blur=0", **kw)
if __name__ == "__main__":
    mode, iters = sys.argv[1], int(sys.argv[2]); kappa = float(sys.argv[3]) if len(sys.argv) > 3 else 0.1
    spec = sys.argv[4] if len(sys.argv) > 4 else "fast"
    if mode == "synth":
        def rows(lab): return (lab[:, 43:46] != lab[:, 44:47]).any(1).mean()
        on = []
        for s in range(20):
            rng = np.random.default_rng(s); img = np.zeros((60, 90, 3)); img[:, 45:] = 0.6
            img = np.clip(img + rng.normal(0, 0.08, img.shape), 0, 1)
            on.append(rows(seg(img, 24, iters, kappa, spec)))
        from lnsnet.eval.metrics import score
        rng = np.random.default_rng(0); h, w = 96, 128; yy, xx = np.mgrid[:h, :w]
        inside = xx > w / 2 + 12 * np.sin(yy / 9.0)
        rgb = np.repeat(np.where(inside[:, :, None], 0.65, 0.35), 3, axis=2).astype(np.float32)
        noise = rng.integers(-2, 3, (h, w)).astype(np.float32) / 255; rgb[..., 0] += noise; rgb[..., 2] -= noise
        s = score(seg(rgb, 24, iters, kappa, spec), [inside.astype(int)])
        rng = np.random.default_rng(0)
        msk = np.zeros((20, 21)); msk[2:-2, 2:-2] = 1
        g = np.zeros((20, 21)); g[:10, :10] = 0.33; g[10:, :10] = 0.67; g[10:, 10:] = 1.00
        g = np.clip(g + 0.0033 * rng.normal(size=g.shape), 0, 1)
        gi = g if iters == 0 else diffused(g, iters, kappa)[..., 0]
        sg = lnsnet.segment(gi, 4, sigma=0, channel_axis=None, convert2lab=False, mask=msk, model=net,
                            clustering=spec + ("" if iters == 0 else ":blur=0"))
        wrong = int((sg[2:10,10:-2]!=sg[2,12]).sum()+(sg[2:10,2:10]!=sg[2,2]).sum()+(sg[10:-2,2:10]!=sg[12,2]).sum()+(sg[10:-2,10:-2]!=sg[12,12]).sum())
        print(iters, kappa, spec, "noisy %.3f %.3f" % (np.mean(on), min(on)), "chroma ASA %.4f CO %.3f" % (s["asa_best"], s["co"]), "gray wrong", wrong)
    else:
        sys.path.insert(0, "scripts")
        from contour_grid_val import dataset, KS
        from lnsnet.eval.metrics import score
        ds, n = dataset(mode, "/work/shared/data")
        res = {k: [] for k in KS}
        for i in range(n):
            s = ds[i]
            u = s.image if iters == 0 else diffused(s.image, iters, kappa)
            for k in KS:
                lab = lnsnet.segment(u, k, model=net, clustering=spec + ("" if iters == 0 else ":blur=0"))
                sc = score(lab, s.ground_truths, s.image, ignore=getattr(ds, "ignore_label", None))
                res[k].append([sc["br_best"], sc["asa_best"], sc["co"]])
        r = {f"{m}{k}": round(float(np.mean(np.array(res[k])[:, j])), 4) for k in KS for j, m in enumerate(("br", "asa", "co"))}
        print(json.dumps({"set": mode, "iters": iters, "kappa": kappa, "spec": spec, **r}), flush=True)
