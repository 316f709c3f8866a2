"""Shape against boundary adherence: LNS-Net's ``compactness`` option beside the classic
methods on all 200 BSDS500 test images.

    LNSNET_BSDS500=... python scripts/compactness_frontier.py            # run, then plot
    python scripts/compactness_frontier.py --plot-only

Runs ``lnsnet:clustering=paper:compactness=c`` (the paper's one-shot clustering plus the
uniform spatial term) for each ``--values`` with the shipped model into
``docs/benchmarks/compactness-test`` (resumable), then draws
``docs/benchmarks/compactness-test/frontier.png``: boundary recall and ASA against
compactness (Schick), one line per K for that frontier (one point per value; c = 0 is
``lnsnet:clustering=paper`` of ``docs/benchmarks/bsds500-test``), a star per K for the
compact clustering, the default (``lnsnet`` there: edge-aware compactness, seed
iterations, Potts smoothing), and one marker per K for each baseline, and prints the
table.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

BASELINES = ("slic", "slico", "lsc", "seeds", "snic", "ers")
PAPER = "lnsnet:clustering=paper"  # the paper's one-shot clustering
COMPACT = "lnsnet"  # the default: the compact clustering


def read(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--values", default="0.3,1,3")
    ap.add_argument("--ks", default="100,400,1000")
    ap.add_argument("--out", default="docs/benchmarks/compactness-test")
    ap.add_argument("--baselines", default="docs/benchmarks/bsds500-test/summary.csv")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--root", default=None)
    ap.add_argument("--plot-only", action="store_true")
    args = ap.parse_args()
    out = Path(args.out)
    values = [v.strip() for v in args.values.split(",")]
    if not args.plot_only:
        from lnsnet.eval.benchmark import run_benchmark

        methods = ",".join(f"{PAPER}:compactness={v}" for v in values)
        run_benchmark("bsds500", split="test", methods=methods, ks=args.ks, out_dir=out, root=args.root,
                      workers=args.workers, progress=False)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = [int(k) for k in args.ks.split(",")]
    base = read(args.baselines)
    ours = [r for r in base if r["method"] == PAPER] + read(out / "summary.csv")
    default = [r for r in base if r["method"] == COMPACT]
    lines = ["| method | K | k delivered | CO | ASA | BR | UE |", "|---|---:|---:|---:|---:|---:|---:|"]
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    for ax, metric, label in [(axes[0], "br", "boundary recall (r=1)"), (axes[1], "asa", "ASA")]:
        for k in ks:
            pts = sorted(((float(r["co"]), float(r[metric]), r) for r in ours if int(r["k_asked"]) == k),
                         key=lambda t: t[0])
            line, = ax.plot([p[0] for p in pts], [p[1] for p in pts], "-o",
                            label=f"LNS-Net paper clustering, K={k} (c = 0, {', '.join(values)})")
            for co, v, r in pts:
                c = r["method"].split("compactness=")[1] if "compactness=" in r["method"] else "0"
                ax.annotate(f"c={c}, k={float(r['k_delivered']):.0f}", (co, v), fontsize=6, color=line.get_color())
            for r in (r for r in default if int(r["k_asked"]) == k):
                ax.scatter([float(r["co"])], [float(r[metric])], marker="*", s=180, color=line.get_color(),
                           edgecolor="k", zorder=5, label=f"LNS-Net compact clustering (default), K={k}")
                ax.annotate(f"compact, k={float(r['k_delivered']):.0f}", (float(r["co"]), float(r[metric])),
                            fontsize=7, color=line.get_color(), xytext=(4, -10), textcoords="offset points")
        for i, b in enumerate(BASELINES):
            pts = sorted((float(r["co"]), float(r[metric]), float(r["k_delivered"])) for r in base if r["method"] == b)
            if not pts:
                continue
            sc = ax.scatter([p[0] for p in pts], [p[1] for p in pts], marker="sv^Dxh"[i % 6], label=b.upper())
            for co, v, kd in pts:
                ax.annotate(f"{kd:.0f}", (co, v), fontsize=6, color=sc.get_facecolor()[0] if len(sc.get_facecolor()) else "k")
        ax.set_xlabel("compactness (Schick; higher is more regular)")
        ax.set_ylabel(label)
        ax.set_title(f"{label} against shape, BSDS500 test (numbers: k delivered)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "frontier.png", dpi=110)
    for r in sorted(ours + default, key=lambda r: (int(r["k_asked"]), r["method"])):
        if int(r["k_asked"]) in ks:
            lines.append(f"| {r['method']} | {r['k_asked']} | {float(r['k_delivered']):.1f} | {float(r['co']):.4f} | "
                         f"{float(r['asa']):.4f} | {float(r['br']):.4f} | {float(r['ue']):.4f} |")
    (out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {out / 'frontier.png'} and {out / 'table.md'}")


if __name__ == "__main__":
    main()
