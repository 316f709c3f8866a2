"""Choose each classic method's setting on BSDS500 val: from benchmark summaries of a
grid of settings (method names ``slic:compactness=20`` etc.), compared at matched
delivered k (each setting's BR, ASA, UE, CO interpolated linearly in log k at k = 200,
400 and 800 from its K = 100, 400, 1000 rows), the setting with the highest mean boundary
recall (ties: ASA), and the one with the highest mean ASA where that differs. A setting
whose delivered k does not span a target is left out. Prints a Markdown table
(docs/benchmarks/bsds500-val-classic/README.md).

    python scripts/val_tuned.py docs/benchmarks/bsds500-val-classic/summary.csv [more summary.csv ...]
"""

import argparse
import csv
import math
from collections import defaultdict

TARGETS = (200, 400, 800)


def _interp(x: float, xs: list, ys: list) -> float:
    for i in range(len(xs) - 1):
        if xs[i] <= x <= xs[i + 1]:
            t = 0.0 if xs[i + 1] == xs[i] else (x - xs[i]) / (xs[i + 1] - xs[i])
            return ys[i] + t * (ys[i + 1] - ys[i])
    raise ValueError(x)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("summaries", nargs="+")
    args = ap.parse_args()
    rows = []
    for path in args.summaries:
        with open(path, newline="") as fh:
            rows += list(csv.DictReader(fh))
    by = defaultdict(list)
    for r in rows:
        by[r["method"]].append(r)
    families = defaultdict(list)
    for method, rs in by.items():
        rs = sorted(rs, key=lambda r: float(r["k_delivered"]))
        logk = [math.log(float(r["k_delivered"])) for r in rs]
        if not logk[0] <= math.log(TARGETS[0]) or not math.log(TARGETS[-1]) <= logk[-1]:
            continue  # its delivered k does not span the targets
        mean = {}
        for c in ("br", "asa", "ue", "co"):
            vals = [float(r[c]) for r in rs]
            mean[c] = sum(_interp(math.log(t), logk, vals) for t in TARGETS) / len(TARGETS)
        ks = ",".join(r["k_asked"] for r in sorted(rs, key=lambda r: int(r["k_asked"])))
        families[method.split(":")[0]].append((method, mean, ks, rs[0]["n_images"]))
    at = "/".join(map(str, TARGETS))
    print(f"BR, ASA, UE, CO: means at delivered k = {at}, interpolated in log k.\n")
    print("| method | settings compared | chosen (max mean BR) | BR | ASA | UE | CO | max ASA, if another | "
          "images | K asked |")
    print("|---|---:|---|---:|---:|---:|---:|---|---:|---|")
    for family in sorted(families):
        tried = families[family]
        best = max(tried, key=lambda t: (t[1]["br"], t[1]["asa"]))
        best_asa = max(tried, key=lambda t: (t[1]["asa"], t[1]["br"]))
        other = "" if best_asa[0] == best[0] else f"`{best_asa[0]}` ({best_asa[1]['asa']:.4f})"
        m = best[1]
        print(f"| {family} | {len(tried)} | `{best[0]}` | {m['br']:.4f} | {m['asa']:.4f} | {m['ue']:.4f} | "
              f"{m['co']:.4f} | {other} | {best[3]} | {best[2]} |")


if __name__ == "__main__":
    main()
