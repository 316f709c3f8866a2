"""Probe (issue 18, val only): the contour head fine-tuned through a soft version of the
compact clustering, without labels: the loss is the colour error of each pixel to its soft
superpixels (what the spatial term's relaxation along the head's contours buys), the
head's map entering the spatial term as `fast` does (exp(-6 B) over its mean, times the
edge weights), grid steps 12 / 20 / 39 px (K = 1000 / 400 / 100 on BSDS500). Starts from
the shipped head; lam * MSE to the shipped head's map keeps it near. Judged by the rule of
the head-scale probe (git show 96b929f:scripts/head_scale_probe.py), written before.

    python scripts/ev_head_probe.py train ev2.pt --steps 800 --lam 20        # about 3 min, one thread
    python scripts/ev_head_probe.py eval bsds ev2.pt ev2 LOG [fast:compactness=38]   # sbd, dsb too
    python scripts/ev_head_probe.py table LOG   # LOG also holds the head-scale probe's rows
                                                # (docs/benchmarks/contour-val/head-scale.jsonl)
"""
import argparse, glob, json, math, copy, os, sys, time
import numpy as np, torch, torch.nn.functional as F
import lnsnet
from lnsnet.prepare import prepare, clustering_colour
from lnsnet.cluster.local import edge_weights
from lnsnet.model.contour import contour_factor
from lnsnet.io import read_image


def soft_cluster_loss(f, w, S, m, iters=5):
    """f (C,H,W) colour, w (H,W) spatial factor, grid step S px, compactness m:
    d = |f - c|^2 + m / S^2 * w * |p - p_c|^2; mean over pixels of sum_j q_pj |f_p - c_j|^2."""
    C, H, W = f.shape
    rows, cols = math.ceil(H / S), math.ceil(W / S)
    yy, xx = torch.meshgrid(torch.arange(H, dtype=f.dtype), torch.arange(W, dtype=f.dtype), indexing="ij")
    pos = torch.stack([yy, xx])
    r, c = (yy // S).long(), (xx // S).long()
    cell = r * cols + c
    K = rows * cols
    cand, valid = [], []
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            rr, cc = r + dr, c + dc
            valid.append((rr >= 0) & (rr < rows) & (cc >= 0) & (cc < cols))
            cand.append(rr.clamp(0, rows - 1) * cols + cc.clamp(0, cols - 1))
    cand, valid = torch.stack(cand), torch.stack(valid)  # (9,H,W)
    cnt = torch.zeros(K).index_add_(0, cell.reshape(-1), torch.ones(H * W))
    cf = torch.zeros(C, K).index_add_(1, cell.reshape(-1), f.reshape(C, -1)) / cnt.clamp_min(1)
    cp = torch.zeros(2, K).index_add_(1, cell.reshape(-1), pos.reshape(2, -1)) / cnt.clamp_min(1)
    lam = m / (S * S)
    idx = cand.reshape(-1)
    for it in range(iters + 1):
        ff = cf[:, idx].reshape(C, 9, H, W)
        pp = cp[:, idx].reshape(2, 9, H, W)
        col = ((f[:, None] - ff) ** 2).sum(0)
        d = col + lam * w[None] * ((pos[:, None] - pp) ** 2).sum(0)
        q = torch.softmax((-d).masked_fill(~valid, -1e9), 0)
        if it == iters:
            break
        qf = q.reshape(-1)
        den = torch.zeros(K).index_add(0, idx, qf)
        cf = torch.zeros(C, K).index_add(1, idx, (q[None] * f[:, None]).reshape(C, -1)) / den.clamp_min(1e-6)
        cp = torch.zeros(2, K).index_add(1, idx, (q[None] * pos[:, None]).reshape(2, -1)) / den.clamp_min(1e-6)
    return (q * col).sum(0).mean()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--data", default=os.environ.get("LNSNET_DATA", "../shared/data"))
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--lam", type=float, default=0.0)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--crop", type=int, default=192)
    ap.add_argument("--strength", type=float, default=6.0)
    ap.add_argument("--m", type=float, default=32.0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    files = sorted(glob.glob(os.path.join(a.data, "bsds500/images/train/*.jpg")))
    model = lnsnet.load_model("bsds500")
    head = copy.deepcopy(model.contour_head).train()
    ref = copy.deepcopy(model.contour_head).eval()
    opt = torch.optim.Adam(head.parameters(), lr=a.lr)
    t0, hist = time.time(), []
    for step in range(a.steps):
        rgb = read_image(files[step % len(files)])
        h, w = rgb.shape[:2]
        ch, cw = min(h, a.crop), min(w, a.crop)
        r0, c0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = np.ascontiguousarray(rgb[r0:r0 + ch, c0:c0 + cw])
        if rng.random() < 0.5:
            crop = np.ascontiguousarray(crop[:, ::-1])
        prep = prepare(crop, blur=0.8)
        colour = clustering_colour(torch.from_numpy(prep.x)[None], [prep.colour_scale])
        ew = torch.from_numpy(edge_weights(np.ascontiguousarray(colour[0].numpy()), 2.0))
        S = int(rng.choice([12, 20, 39]))
        b = head(colour)[0, 0]
        wmap = contour_factor(b, a.strength) * ew
        loss = soft_cluster_loss(colour[0], wmap, S, a.m)
        if a.lam > 0:
            with torch.no_grad():
                b0 = ref(colour)[0, 0]
            loss = loss + a.lam * F.mse_loss(b, b0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        hist.append(float(loss))
        if step % 50 == 0:
            print(step, S, f"{np.mean(hist[-50:]):.4f}", f"{time.time() - t0:.0f}s", flush=True)
    model.contour_head = head.eval()
    torch.save(head.state_dict(), a.out)
    print("saved", a.out)


KS = (100, 400, 1000)


def evaluate(st, weights, label, log, spec="fast"):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from contour_grid_val import dataset
    from lnsnet.eval.metrics import score

    torch.set_num_threads(1)
    net = lnsnet.load_model("bsds500")
    if weights != "shipped":
        net.contour_head.load_state_dict(torch.load(weights))
    ds, n = dataset(st, os.environ.get("LNSNET_DATA", "../shared/data"))
    res = {k: [] for k in KS}
    for i in range(n):
        s = ds[i]
        for k in KS:
            lab = lnsnet.segment(s.image, k, model=net, clustering=spec)
            sc = score(lab, s.ground_truths, ignore=getattr(ds, "ignore_label", None))
            res[k].append([sc["br_best"], sc["asa_best"], sc["co"], sc["n_segments"]])
    rec = {"set": st, "model": label, "spec": spec, "scale": label + ("" if spec == "fast" else " " + spec),
           **{f"{m}{k}": float(np.mean(np.array(res[k])[:, j])) for k in KS for j, m in enumerate(("br", "asa", "co", "k"))}}
    with open(log, "a") as fh:
        fh.write(json.dumps(rec) + "\n")
    print(rec)


def table(log):
    def curve(rows, k, co, m):
        pts = sorted((r[f"co{k}"], r[f"{m}{k}"]) for r in rows)
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        return float(np.interp(co, xs, ys)) if xs[0] <= co <= xs[-1] else float("nan")

    recs = [json.loads(l) for l in open(log)]
    for st in ("bsds", "sbd", "dsb"):
        none = [r for r in recs if r["set"] == st and r["model"] == "none"]
        for r in (r for r in recs if r["set"] == st and r["model"] != "none" and r["scale"] in (1,) + tuple(
                x["scale"] for x in recs if isinstance(x["scale"], str) and x["scale"].startswith("ev"))):
            print(st, str(r["scale"]).ljust(28), "dBR", " / ".join(f"{r[f'br{k}'] - curve(none, k, r[f'co{k}'], 'br'):+.4f}" for k in KS),
                  "| dASA", " / ".join(f"{r[f'asa{k}'] - curve(none, k, r[f'co{k}'], 'asa'):+.4f}" for k in KS),
                  "| CO", " / ".join(f"{r[f'co{k}']:.3f}" for k in KS))


if __name__ == "__main__":
    cmd = sys.argv.pop(1)
    if cmd == "train":
        main()
    elif cmd == "eval":
        evaluate(*sys.argv[1:])
    else:
        table(sys.argv[1])
