"""Lifelong curves and the ablation models of Fig. 4a: train a variant image after image
and score it on a fixed BSDS500 *val* subset after every ``--every`` training images.

    LNSNET_BSDS500=... python scripts/lifelong.py --variant net3-sobel --train-images 100
    LNSNET_BSDS500=... python scripts/lifelong.py --variant net3-sobel --add-model runs/shipped-train200/bsds500.pt --at 200
    python scripts/lifelong.py --plot docs/ablation        # curves of every variant run

Variants (all: the paper's schedule, 50 iterations per image, Adam 3e-4 for the whole
stream, K drawn from 100/200/400, seed 0, BSDS500 train in name order):

``net1``        FEM with grid seeds: no seed layer, no GRM (reconstruction weight 0)
``net2``        + SEL (learned seeds), no GRM: the curve "without GRM"
``net2-rec``    LNS-Net2 with the reconstruction head and loss but no gradient rescaling
``net3-sobel``  + GRM (reconstruction head, GAL, GBL) with the Sobel contour prior
``net3-canny``  + GRM with the Canny contour prior
``net3-sobel-gbl``, ``net3-sobel-gal``  GRM with only one of its two gradient layers

The stream runs through :func:`lnsnet.train_stream` in chunks of ``--every`` images
(``max_images``/``resume``), so an interrupted run continues where it stopped; points
already in ``<out>/<variant>.jsonl`` are not recomputed. The model after the whole stream
(or after ``--export-at`` images) is kept as ``<out>/models/<variant>.pt`` (exported, no
optimiser state): the ablation's test runs (``scripts/ablation.py``) use it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

PAPER_LR = 3e-4  # the paper's learning rate: every curve of docs/ablation.md was trained with it

VARIANTS = {
    "net1": dict(learn_seeds=False, use_gal=False, use_gbl=False, beta=0.0),
    "net2": dict(learn_seeds=True, use_gal=False, use_gbl=False, beta=0.0),
    "net2-rec": dict(learn_seeds=True, use_gal=False, use_gbl=False),
    "net3-sobel": dict(contour="sobel"),
    "net3-canny": dict(contour="canny"),
    "net3-sobel-gbl": dict(contour="sobel", use_gal=False),
    "net3-sobel-gal": dict(contour="sobel", use_gbl=False),
}
LABELS = {
    "net1": "LNS-Net1 (FEM + grid seeds)",
    "net2": "LNS-Net2 (+ SEL), no GRM",
    "net2-rec": "LNS-Net2 + reconstruction loss, no GAL/GBL",
    "net3-sobel": "LNS-Net3 (+ GRM), Sobel",
    "net3-canny": "LNS-Net3 (+ GRM), Canny",
    "net3-sobel-gbl": "LNS-Net3, GBL only (no GAL)",
    "net3-sobel-gal": "LNS-Net3, GAL only (no GBL)",
}


def paper_settings(seeds_modes):
    """The settings :func:`evaluate` scores this script's curves with: the paper's clustering,
    one entry per seeds mode."""
    return {mode: dict(clustering=f"paper:seeds={mode}") for mode in seeds_modes}


def evaluate(model, samples, ks, settings):
    """Mean ASA/BR/UE/CO and delivered k over ``samples`` per (setting, K), keyed
    ``<setting name>_<K>``; ``settings`` maps a name to ``segment`` keyword arguments."""
    import lnsnet
    from lnsnet.eval.metrics import score

    out = {}
    for mode, opts in settings.items():
        for k in ks:
            acc = []
            for s in samples:
                lab = lnsnet.segment(s.image, k, model=model, **opts)
                sc = score(lab, s.ground_truths)
                acc.append((lab.max() + 1, sc["asa_best"], sc["br_best"], sc["ue_best"], sc["co"]))
            m = np.asarray(acc, dtype=float).mean(0)
            out[f"{mode}_{k}"] = dict(k=round(m[0], 2), asa=round(m[1], 5), br=round(m[2], 5),
                                      ue=round(m[3], 5), co=round(m[4], 5))
    return out


def run(args):
    import lnsnet
    from lnsnet import checkpoint
    from lnsnet.eval.datasets import BSDS500
    from lnsnet.train import TrainConfig, expand_sources, train_stream

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    (out / "models").mkdir(parents=True, exist_ok=True)
    work = Path(args.work) / args.variant
    work.mkdir(parents=True, exist_ok=True)
    ckpt = work / "model.pt"
    curve = out / f"{args.variant}.jsonl"
    done = {}
    if curve.is_file():
        for line in curve.read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                done[rec["images"]] = rec
    train_ds = BSDS500(split="train", root=args.root)
    files = expand_sources([train_ds.root / "images" / "train"])[: args.train_images]
    val = BSDS500(split="val", root=args.root)
    samples = [val[i] for i in range(min(args.val_images, len(val)))]
    ks = [int(k) for k in args.ks.split(",")]
    seeds_modes = ["grid"] if args.variant == "net1" else ["grid", "learned"]
    cfg = TrainConfig(seed=args.seed, lr=PAPER_LR, **VARIANTS[args.variant])

    def record(n_images, model, seconds):
        if n_images in done:
            return
        t0 = time.perf_counter()
        rec = {"variant": args.variant, "images": n_images, "train_seconds": round(seconds, 1),
               **evaluate(model, samples, ks, paper_settings(seeds_modes))}
        rec["eval_seconds"] = round(time.perf_counter() - t0, 1)
        with open(curve, "a") as fh:
            fh.write(json.dumps(rec) + "\n")
        done[n_images] = rec
        print(json.dumps(rec), flush=True)

    if 0 not in done:
        from lnsnet.train import new_model

        record(0, new_model(cfg.seed).eval(), 0.0)
    position = 0
    if ckpt.is_file():
        position = int(checkpoint.load_latest(ckpt)[0].get("position", 0))
    export_at = min(args.export_at or len(files), len(files))
    exported = out / "models" / f"{args.variant}.pt"

    def export():
        checkpoint.export_model(ckpt, exported, data=f"BSDS500 images/train, first {export_at} images",
                                recipe=f"scripts/lifelong.py --variant {args.variant} --train-images {export_at}")

    while position < len(files):
        n = min(args.every, len(files) - position, *([export_at - position] if position < export_at else []))
        t0 = time.perf_counter()
        model = train_stream(files, ckpt, config=cfg, resume=position > 0, max_images=n,
                             checkpoint_every=5, progress=False, log=work / "train.jsonl")
        position += n
        if position % args.every == 0 or position == len(files):
            record(position, model, time.perf_counter() - t0)
        if position == export_at:
            export()
    if position not in done:
        record(position, lnsnet.load_model(str(ckpt)), 0.0)
    if position == export_at and not exported.is_file():
        export()


def _plot(runs, path, title, seeds="grid"):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in next(iter(runs.values()))[0] if k.startswith("grid_")]
    ks = sorted(int(k.split("_")[1]) for k in keys)
    fig, axes = plt.subplots(2, len(ks), figsize=(5.5 * len(ks), 7.5), squeeze=False)
    for j, k in enumerate(ks):
        for i, metric in enumerate(("asa", "br")):
            ax = axes[i, j]
            for v, recs in runs.items():
                key = f"{seeds}_{k}" if f"{seeds}_{k}" in recs[0] else f"grid_{k}"
                xs = [r["images"] for r in recs if key in r]
                ys = [r[key][metric] for r in recs if key in r]
                line, = ax.plot(xs, ys, marker="o", label=f"{LABELS[v]} [{key.split('_')[0]} seeds]")
                for r in recs:
                    if r.get("source") and key in r:
                        ax.annotate("shipped recipe,\ntrain-only checkpoint", (r["images"], r[key][metric]),
                                    fontsize=7, color=line.get_color(), xytext=(-90, -25), textcoords="offset points")
            ax.set_xlabel("training images seen (BSDS500 train, in name order)")
            ax.set_ylabel(metric.upper())
            ax.set_title(f"{metric.upper()} on 50 BSDS500 val images, K={k}")
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def plot(folder: Path):
    runs = {}
    for v in VARIANTS:
        f = folder / f"{v}.jsonl"
        if f.is_file():
            runs[v] = sorted((json.loads(x) for x in f.read_text().splitlines() if x.strip()), key=lambda r: r["images"])
    if not runs:
        raise SystemExit(f"no curves in {folder}")
    _plot(runs, folder / "lifelong.png", "Lifelong training: every variant (grid seeds at inference)")
    ks = sorted(int(k.split("_")[1]) for k in next(iter(runs.values()))[0] if k.startswith("grid_"))
    lines = ["| variant | images seen | " + " | ".join(f"K={k}: k, ASA, BR, CO" for k in ks) + " |",
             "|---|---:|" + "---|" * len(ks)]
    for v, recs in runs.items():
        for r in recs:
            cells = [f"{r[f'grid_{k}']['k']:.1f}, {r[f'grid_{k}']['asa']:.4f}, {r[f'grid_{k}']['br']:.4f}, "
                     f"{r[f'grid_{k}']['co']:.4f}" for k in ks]
            src = " (train-only checkpoint shipped until 2026-11-26, lr 3e-4)" if r.get("source") else ""
            lines.append(f"| {LABELS[v]} | {r['images']}{src} | " + " | ".join(cells) + " |")
    (folder / "lifelong.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {folder / 'lifelong.md'}")
    grm = {v: r for v, r in runs.items() if v.startswith("net3")}
    if grm:
        _plot(grm, folder / "lifelong-grm.png", "Lifelong training with GRM (zoom; learned seeds where the variant has a SEL)",
              seeds="learned")


def add_point(args):
    """Score an existing model as the point ``--at`` of a variant's curve (``source`` names it)."""
    import lnsnet
    from lnsnet.eval.datasets import BSDS500

    torch.set_num_threads(args.threads)
    curve = Path(args.out) / f"{args.variant}.jsonl"
    val = BSDS500(split="val", root=args.root)
    samples = [val[i] for i in range(min(args.val_images, len(val)))]
    ks = [int(k) for k in args.ks.split(",")]
    seeds_modes = ["grid"] if args.variant == "net1" else ["grid", "learned"]
    rec = {"variant": args.variant, "images": args.at, "source": args.add_model,
           **evaluate(lnsnet.load_model(args.add_model), samples, ks, paper_settings(seeds_modes))}
    with open(curve, "a") as fh:
        fh.write(json.dumps(rec) + "\n")
    print(json.dumps(rec))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", choices=sorted(VARIANTS))
    ap.add_argument("--train-images", type=int, default=100)
    ap.add_argument("--every", type=int, default=25)
    ap.add_argument("--export-at", type=int, default=None,
                    help="images after which the ablation model is exported (default: --train-images)")
    ap.add_argument("--val-images", type=int, default=50)
    ap.add_argument("--ks", default="100,400")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--root", default=None, help="BSDS500 folder (default: $LNSNET_BSDS500)")
    ap.add_argument("--out", default="docs/ablation")
    ap.add_argument("--work", default="runs/ablation", help="checkpoints (resumable)")
    ap.add_argument("--plot", metavar="FOLDER", help="draw lifelong.png from the curves in FOLDER")
    ap.add_argument("--add-model", metavar="PATH",
                    help="score this model file as the point --at of --variant's curve (e.g. a longer run of the same stream)")
    ap.add_argument("--at", type=int, help="training images the --add-model has seen")
    args = ap.parse_args()
    if args.plot:
        plot(Path(args.plot))
    elif args.add_model:
        if not args.variant or args.at is None:
            ap.error("--add-model needs --variant and --at")
        add_point(args)
    elif args.variant:
        run(args)
    else:
        ap.error("give --variant or --plot")


if __name__ == "__main__":
    main()
