"""Probe of the drift of long lifelong streams (docs/ablation.md): train one variant of the
shipped recipe on the first N BSDS500 train images and score it on the first V val images
after every E images, with the default (compact) clustering and the paper's, grid seeds.

    LNSNET_BSDS500=... python scripts/drift_probe.py VARIANT OUT.jsonl [--images 200] [--every 50]
        [--val-images 50] [--ks 100,400] [--device cuda]

VARIANT is a name and TrainConfig overrides, e.g. ``base``, ``decay50:lr_decay_images=50``,
``beta30:beta=30``, ``lr1e-4:lr=1e-4``. One JSON line per point is appended to OUT.jsonl
(written as each point finishes, so a cut run keeps what it measured).

    python scripts/drift_probe.py --plot FOLDER     # drift.png and drift.md from FOLDER/*.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch


def parse_variant(spec: str):
    """``name:key=value:...`` -> (name, TrainConfig overrides), each value as its field's type."""
    from lnsnet.train import TrainConfig

    name, *kvs = spec.split(":")
    over = {}
    for kv in kvs:
        key, value = kv.split("=", 1)
        if key not in TrainConfig.__dataclass_fields__:
            raise SystemExit(f"unknown TrainConfig field {key!r}")
        default = getattr(TrainConfig(), key)
        over[key] = (value.lower() in ("1", "true", "yes")) if isinstance(default, bool) else type(default)(value)
    return name, over


def plot(folder: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = {}
    for f in sorted(folder.glob("*.jsonl")):
        recs = sorted((json.loads(x) for x in f.read_text().splitlines() if x.strip()), key=lambda r: r["images"])
        if recs:
            runs[recs[0]["variant"]] = recs
    if not runs:
        raise SystemExit(f"no curves in {folder}")
    keys = [k for k in next(iter(runs.values()))[0] if k.startswith(("compact_", "paper_"))]
    fig, axes = plt.subplots(2, len(keys), figsize=(4.2 * len(keys), 7), squeeze=False)
    for j, key in enumerate(keys):
        clustering, k = key.split("_")
        for i, metric in enumerate(("br", "co")):
            ax = axes[i, j]
            for v, recs in runs.items():
                cfg = ", ".join(f"{a}={b:g}" for a, b in recs[0]["config"].items()) or "paper: lr=3e-4, beta=10"
                ax.plot([r["images"] for r in recs], [r[key][metric] for r in recs], marker="o", label=f"{v} ({cfg})")
            ax.set_title(f"{metric.upper()}, {clustering} clustering, K={k}", fontsize=9)
            ax.set_xlabel("training images seen (BSDS500 train)")
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("Long lifelong streams on BSDS500 val images: boundary recall and compactness")
    fig.tight_layout()
    fig.savefig(folder / "drift.png", dpi=100)
    lines = ["| variant | images | " + " | ".join(f"{k}: ASA, BR, CO" for k in keys) + " |",
             "|---|---:|" + "---|" * len(keys)]
    for v, recs in runs.items():
        for r in recs:
            lines.append(f"| {v} | {r['images']} | " + " | ".join(
                f"{r[k]['asa']:.4f}, {r[k]['br']:.4f}, {r[k]['co']:.3f}" for k in keys) + " |")
    (folder / "drift.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {folder / 'drift.png'} and {folder / 'drift.md'}")


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--plot"]:
        if len(argv) != 2:
            raise SystemExit("usage: python scripts/drift_probe.py --plot FOLDER")
        return plot(Path(argv[1]))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("variant")
    ap.add_argument("out")
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--every", type=int, default=50)
    ap.add_argument("--val-images", type=int, default=50)
    ap.add_argument("--ks", default="100,400")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--root", default=None)
    args = ap.parse_args(argv)

    from lifelong import PAPER_LR, evaluate  # scripts/lifelong.py: the same scoring as its curves
    from lnsnet.eval.datasets import BSDS500
    from lnsnet.train import TrainConfig, expand_sources, train_stream, new_model

    name, over = parse_variant(args.variant)
    cfg = TrainConfig(seed=0, **{"lr": PAPER_LR, **over})  # the variants change the paper's recipe
    train = BSDS500(split="train", root=args.root)
    files = expand_sources([train.root / "images" / "train"])[: args.images]
    val = BSDS500(split="val", root=args.root)
    samples = [val[i] for i in range(min(args.val_images, len(val)))]
    ks = [int(k) for k in args.ks.split(",")]

    def record(n, model, seconds):
        model = model.to("cpu").eval()
        rec = {"variant": name, "config": over, "images": n, "train_seconds": round(seconds, 1),
               **evaluate(model, samples, ks, {c: {"clustering": c} for c in ("compact", "paper")})}
        with open(args.out, "a") as fh:
            fh.write(json.dumps(rec) + "\n")
        print(json.dumps(rec), flush=True)

    record(0, new_model(cfg.seed), 0.0)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "m.pt"
        position = 0
        while position < len(files):
            n = min(args.every, len(files) - position)
            t0 = time.perf_counter()
            model = train_stream(files, ckpt, config=cfg, resume=position > 0, max_images=n,
                                 checkpoint_every=1000, progress=False, device=args.device)
            position += n
            record(position, model, time.perf_counter() - t0)


if __name__ == "__main__":
    main()
