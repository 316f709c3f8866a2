"""The ablation of Fig. 4a on all 200 BSDS500 *test* images, with ``lnsnet benchmark``.

    LNSNET_BSDS500=... python scripts/ablation.py            # run what is missing, then compile
    python scripts/ablation.py --compile-only                # table and plot from the summaries

For every model in ``docs/ablation/models`` (made by ``scripts/lifelong.py``, plus the
untrained network all variants start from) it runs
``lnsnet:clustering=paper`` with grid seeds and, for the variants with a seed layer, also
with ``seeds=learned`` into ``docs/ablation/test-<variant>``; for the 50-image model shipped
until 2026-11-27 (``models/net3-sobel.pt``) it runs the ``local`` (3x3 cells) and ``dense``
(all K seeds, the paper's) clustering into ``docs/ablation/test-cl``.
Then it writes ``docs/ablation/summary.md`` (one table) and ``docs/ablation/ablation.png``
(ASA, BR, F and UE against the delivered k) from each folder's ``summary.csv``. Runs resume:
rows already there are kept.

The repository keeps each model's ``models/<variant>.json`` (sha256, recipe), not the
``.pt`` files nor the test folders' ``rows.csv``; ``--compile-only`` needs neither. To run
again, rebuild the models with ``scripts/lifelong.py`` (``docs/ablation.md``) or take the
files measured from git history: ``git show 738f47a:docs/ablation/models/net1.pt >
docs/ablation/models/net1.pt`` (likewise for the others).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

ORDER = ["untrained", "net1", "net2", "net2-rec", "net3-sobel", "net3-canny", "net3-sobel-gbl", "net3-sobel-gal"]
LABELS = {
    "untrained": "untrained (random init, seed 0)",
    "net1": "LNS-Net1: FEM + grid seeds",
    "net2": "LNS-Net2: + SEL, no GRM",
    "net2-rec": "LNS-Net2 + reconstruction loss, no GAL/GBL",
    "net3-sobel": "LNS-Net3: + GRM, Sobel prior",
    "net3-canny": "LNS-Net3: + GRM, Canny prior",
    "net3-sobel-gbl": "LNS-Net3, GBL only",
    "net3-sobel-gal": "LNS-Net3, GAL only",
    "shipped": "shipped model",
}


def untrained_model(folder: Path) -> Path:
    """The network every variant starts from (seed 0), never trained: ``models/untrained.pt``."""
    path = folder / "models" / "untrained.pt"
    if not path.is_file():
        from lnsnet import checkpoint
        from lnsnet.train import new_model

        tmp = path.with_name("untrained-full.pt")
        checkpoint.save(tmp, new_model(0))
        checkpoint.export_model(tmp, path, data="none (random initialisation, seed 0)",
                                recipe="scripts/ablation.py (lnsnet.train.new_model(0))")
        tmp.unlink()
    return path


P = "lnsnet:clustering=paper"


def runs(folder: Path):
    """``(variant, model path or 'bsds500', methods, out dir)`` of every ablation run."""
    out = []
    models = folder / "models"
    # a variant is known by its model file or, where that is not kept, by its .json sidecar
    stems = {p.stem for p in models.glob("*.pt")} | {p.stem for p in models.glob("*.json")}
    names = sorted(stems, key=lambda n: ORDER.index(n) if n in ORDER else 99)
    for name in names:
        # the paper's one-shot clustering throughout (rows before 2026-11-26 are named
        # "lnsnet" / "lnsnet:seeds=learned": the default clustering then)
        methods = P if name in ("net1", "untrained") else f"{P},{P}:seeds=learned"
        out.append((name, str(models / f"{name}.pt"), methods, folder / f"test-{name}"))
    # "shipped": the 50-image model shipped until 2026-11-27, which is net3-sobel (sha256 b8e4bdfd...)
    out.append(("shipped", str(models / "net3-sobel.pt"), f"{P},lnsnet:mode=dense", folder / "test-cl"))
    return out


def compile_results(folder: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = ["| model | inference | K | k delivered | ASA | BR | F (β=4) | UE | CO | ms/img |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    curves = {}
    for name, _, _, out in runs(folder):
        path = out / "summary.csv"
        if not path.is_file():
            continue
        with open(path, newline="") as fh:
            rows = sorted(csv.DictReader(fh), key=lambda r: (r["method"], int(r["k_asked"])))
        for r in rows:
            how = ":".join(p for p in r["method"].split(":")[1:] if p != "clustering=paper") or "grid seeds, local"
            how = {"seeds=learned": "learned seeds, local", "mode=dense": "grid seeds, dense"}.get(how, how)
            lines.append(f"| {LABELS.get(name, name)} | {how} | {r['k_asked']} | {float(r['k_delivered']):.1f} | "
                         f"{float(r['asa']):.4f} | {float(r['br']):.4f} | {float(r['f']):.4f} | {float(r['ue']):.4f} | "
                         f"{float(r['co']):.4f} | {float(r['time_s_median']) * 1000:.0f} |")
            curves.setdefault((name, how), []).append(r)
    (folder / "summary.md").write_text("\n".join(lines) + "\n")
    fig, axes = plt.subplots(1, 4, figsize=(19, 4.6))
    for ax, (metric, label) in zip(axes, [("asa", "ASA"), ("br", "BR"), ("f", "F (β=4)"), ("ue", "UE")]):
        for (name, how), rows in curves.items():
            rows = sorted(rows, key=lambda r: float(r["k_delivered"]))
            style = "--" if "learned" in how else (":" if "dense" in how else "-")
            ax.plot([float(r["k_delivered"]) for r in rows], [float(r[metric]) for r in rows], style, marker="o",
                    label=f"{LABELS.get(name, name)} ({how})")
        ax.set_xlabel("superpixels delivered (k)")
        ax.set_title(f"{label}, BSDS500 test (200 images)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(folder / "ablation.png", dpi=110)
    print("\n".join(lines))
    print(f"wrote {folder / 'summary.md'} and {folder / 'ablation.png'}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", default="docs/ablation")
    ap.add_argument("--ks", default="100,400,1000")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--root", default=None)
    ap.add_argument("--only", help="comma-separated variants to run (default: all)")
    ap.add_argument("--compile-only", action="store_true")
    args = ap.parse_args()
    folder = Path(args.folder)
    if not args.compile_only:
        from lnsnet.eval.benchmark import run_benchmark

        untrained_model(folder)
        only = set(args.only.split(",")) if args.only else None
        for name, model, methods, out in runs(folder):
            if only and name not in only:
                continue
            if not Path(model).is_file():
                raise SystemExit(f"{model} is missing: rebuild it with scripts/lifelong.py, or "
                                 f"git show 738f47a:{model} > {model}")
            print(f"== {name}: {methods} -> {out}", flush=True)
            run_benchmark("bsds500", split="test", methods=methods, ks=args.ks, out_dir=out, root=args.root,
                          workers=args.workers, model=model, progress=False)
    compile_results(folder)


if __name__ == "__main__":
    main()
