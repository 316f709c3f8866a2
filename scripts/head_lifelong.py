"""The contour head's lifelong curve past 200 images (issue 18): a head learned from scratch,
without labels, on a stream of 846 images (BSDS500 train, 200, then the 646 unlabelled
photos, each in name order), scored after 0, 10, 25, 50, 100, 200, 300, 450, 650 and 846
images with the default clustering (`fast`: the input and the head) on BSDS500 val and
SBD val (the first 50 of each), K = 100 / 400 / 1000, beside `model="none"` (the same
clustering without the head) at compactness 10 ... 30 for its BR-CO line.

    LNSNET_BSDS500=... python scripts/head_lifelong.py runs/head-lifelong            # ~45 min, one thread
    python scripts/head_lifelong.py runs/head-lifelong --table docs/benchmarks/head-lifelong

The head starts from a fresh initialisation (seed 0) in the shipped model (whose feature
embedder `fast` does not run); the stream is trained with `lnsnet.train_stream` in chunks
(`max_images`, `resume`: an interrupted run continues; points already in `points.jsonl`
are not scored again), 20 steps an image as `lnsnet train --contours-only` does. Each
point's dBR is its BR minus `model="none"`'s at the same CO (linear between its
compactness values; a point outside them is left out). `--table DIR` writes
`DIR/points.jsonl`, `DIR/curve.md` and `DIR/curve.png`.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

POINTS = (0, 10, 25, 50, 100, 200, 300, 450, 650, 846)
KS = (100, 400, 1000)
NONE_C = (10.0, 14.0, 18.0, 22.0, 26.0, 30.0)
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def stream(work: Path) -> Path:
    bsds = Path(os.environ.get("LNSNET_BSDS500", SHARED / "bsds500"))
    files = sorted((bsds / "images" / "train").glob("*.jpg")) + sorted((SHARED / "unlabelled-photos" / "images").iterdir())
    path = work / "stream.txt"
    path.write_text("".join(f"{f}\n" for f in files))
    return path


def sets():
    from lnsnet.eval.benchmark import open_dataset

    sbd = SHARED / "sbd"
    return {"bsds500-val": dict(dataset="bsds500", split="val", limit=50),
            "sbd-val": dict(dataset=str(sbd), images_list=str(sbd / "splits" / "stutz_val_238.txt"), ignore_label=0,
                            limit=50, _open=open_dataset)}


def score(work: Path, tag: str, model, methods: str) -> list[dict]:
    from lnsnet.eval.benchmark import run_benchmark

    out = []
    for name, spec in sets().items():
        spec = {k: v for k, v in spec.items() if not k.startswith("_")}
        summary = run_benchmark(methods=methods, ks=list(KS), out_dir=work / "scores" / tag / name, model=model,
                                workers=0, progress=False, **spec)
        out += [{"set": name, **row} for row in summary]
    return out


def fresh_head_model(path: Path, seed: int = 0) -> None:
    """The shipped model with its contour head initialised afresh, as ``train_stream`` makes a
    head for a model without one (``seed``)."""
    import torch

    from lnsnet import checkpoint
    from lnsnet.hub import load_model
    from lnsnet.model import ModelConfig
    from lnsnet.model.contour import ContourHead

    model = load_model("bsds500")
    model.contour_head = ContourHead(3, ModelConfig.contour_width)
    model.contour_head.reset_parameters(torch.Generator().manual_seed(seed))
    checkpoint.save(path, model)


def run(work: Path) -> None:
    from lnsnet.runtime import set_threads
    from lnsnet.train import TrainConfig

    set_threads(1)
    work.mkdir(parents=True, exist_ok=True)
    log = work / "points.jsonl"
    records = [json.loads(line) for line in log.open()] if log.is_file() else []
    done = {r["images"] for r in records}
    none_done = {row["method"] for r in records if r["images"] == "none" for row in r["rows"]}
    todo = [f"lnsnet:model=none:compactness={c:g}" for c in NONE_C]
    todo = [m for m in todo if m not in none_done]
    if todo:  # the input's BR-CO line (each compactness once, whatever run made it)
        rows = score(work, "none", None, ",".join(todo))
        with log.open("a") as fh:
            fh.write(json.dumps({"images": "none", "rows": rows}) + "\n")
    src = stream(work)
    start = work / "start.pt"
    if not start.is_file():
        fresh_head_model(start)
    ckpt = work / "head.pt"
    config = TrainConfig(contours_only=True, contour_iterations=20, seed=0)
    seen = 0
    for point in POINTS:
        if point > seen:
            _train_to(src, ckpt, start, config, point)
            seen = point
        if point in done:
            continue
        model = start if point == 0 else ckpt
        rows = score(work, f"p{point}", str(model), "lnsnet")
        with log.open("a") as fh:
            fh.write(json.dumps({"images": point, "rows": rows}) + "\n")
        print(f"scored after {point} images", flush=True)


def _train_to(src: Path, ckpt: Path, start: Path, config, point: int) -> None:
    """Train the stream in ``ckpt`` until ``point`` images are trained (resumable)."""
    from lnsnet import checkpoint
    from lnsnet.hub import load_model
    from lnsnet.train import train_stream

    trained = int(checkpoint.load(ckpt).get("position", 0)) if ckpt.is_file() else 0
    if trained >= point:
        return
    train_stream(src, ckpt, config=config, model=None if ckpt.is_file() else load_model(start),
                 resume=ckpt.is_file(), max_images=point - trained, checkpoint_every=10, progress=False,
                 log=ckpt.with_suffix(".jsonl"))


def _curve(rows: list[dict], name: str, k: int):
    pts = sorted((r["co"], r["br"], r["asa"]) for r in rows if r["set"] == name and r["k_asked"] == k)
    return pts


def _at(pts, co):
    for (c0, b0, a0), (c1, b1, a1) in zip(pts, pts[1:]):
        if c0 <= co <= c1:
            t = 0.0 if c1 == c0 else (co - c0) / (c1 - c0)
            return b0 + t * (b1 - b0), a0 + t * (a1 - a0)
    return None


def table(work: Path, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = [json.loads(line) for line in (work / "points.jsonl").open()]
    none = [row for r in records if r["images"] == "none" for row in r["rows"]]
    points = sorted((r for r in records if r["images"] != "none"), key=lambda r: r["images"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "points.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    lines = ["| images seen | set | dBR at the same CO, K = 100 / 400 / 1000 | BR | ASA | CO |", "|---:|---|---|---|---|---|"]
    curves = {}
    for rec in points:
        for name in sets():
            cells = {"d": [], "br": [], "asa": [], "co": []}
            for k in KS:
                row = next(r for r in rec["rows"] if r["set"] == name and r["k_asked"] == k)
                ref = _at(_curve(none, name, k), row["co"])
                d = None if ref is None else row["br"] - ref[0]
                cells["d"].append("-" if d is None else f"{d:+.4f}")
                cells["br"].append(f"{row['br']:.4f}")
                cells["asa"].append(f"{row['asa']:.4f}")
                cells["co"].append(f"{row['co']:.3f}")
                curves.setdefault((name, k), []).append((max(rec["images"], 1), d))
            lines.append(f"| {rec['images']} | {name} | {' / '.join(cells['d'])} | {' / '.join(cells['br'])} | "
                         f"{' / '.join(cells['asa'])} | {' / '.join(cells['co'])} |")
    (out / "curve.md").write_text("\n".join(lines) + "\n")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, name in zip(axes, sets()):
        for k in KS:
            xs = [x for x, d in curves[(name, k)] if d is not None]
            ys = [d for _, d in curves[(name, k)] if d is not None]
            ax.plot(xs, ys, "-o", ms=3, label=f"K = {k}")
        ax.axhline(0, color="k", lw=0.8)
        ax.axvline(200, color="gray", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_xlabel("images seen (log scale; 0 drawn at 1)")
        ax.set_title(name)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel('BR over model="none" at the same CO')
    axes[0].legend()
    fig.suptitle("The contour head learned from scratch, without labels: BSDS500 train (to the dashed line, "
                 "200), then 646 unlabelled photos", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "curve.png", dpi=110)
    print("\n".join(lines))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("work", type=Path)
    p.add_argument("--table", type=Path, default=None, help="write the table and the plot into this folder")
    a = p.parse_args()
    if a.table:
        table(a.work, a.table)
    else:
        run(a.work)


if __name__ == "__main__":
    main()
