"""Choose each classic method's setting on BSDS500 val: from benchmark summaries of a
grid of settings (method names ``slic:compactness=20`` etc.), compared at matched
delivered k (each setting's BR, ASA, UE, CO interpolated linearly in log k at the
``--at`` values of k, default 400, from its rows at the K asked), the setting with the
highest mean boundary recall (ties: ASA), and the one with the highest mean ASA where that
differs. A setting whose delivered k does not span every ``--at`` value is left out (and
counted as such). Prints a Markdown table
(docs/benchmarks/bsds500-val-classic/README.md).

    python scripts/val_tuned.py docs/benchmarks/bsds500-val-classic/summary.csv [more summary.csv ...]
"""

import argparse
import csv
import math
from collections import defaultdict



def _interp(x: float, xs: list, ys: list) -> float:
    for i in range(len(xs) - 1):
        if xs[i] <= x <= xs[i + 1]:
            t = 0.0 if xs[i + 1] == xs[i] else (x - xs[i]) / (xs[i + 1] - xs[i])
            return ys[i] + t * (ys[i + 1] - ys[i])
    raise ValueError(x)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("summaries", nargs="+")
    ap.add_argument("--at", default="400", help="comma-separated delivered k to compare at (default 400)")
    args = ap.parse_args()
    targets = tuple(int(v) for v in args.at.split(","))
    rows = []
    for path in args.summaries:
        with open(path, newline="") as fh:
            rows += list(csv.DictReader(fh))
    by = defaultdict(list)
    for r in rows:
        by[r["method"]].append(r)
    families = defaultdict(list)
    left_out = defaultdict(int)
    for method, rs in by.items():
        rs = sorted(rs, key=lambda r: float(r["k_delivered"]))
        logk = [math.log(float(r["k_delivered"])) for r in rs]
        if not logk[0] <= math.log(min(targets)) or not math.log(max(targets)) <= logk[-1]:
            left_out[method.split(":")[0]] += 1  # its delivered k does not span the targets
            continue
        mean = {}
        for c in ("br", "asa", "ue", "co"):
            vals = [float(r[c]) for r in rs]
            mean[c] = sum(_interp(math.log(t), logk, vals) for t in targets) / len(targets)
        ks = ",".join(r["k_asked"] for r in sorted(rs, key=lambda r: int(r["k_asked"])))
        families[method.split(":")[0]].append((method, mean, ks, rs[0]["n_images"]))
    at = "/".join(map(str, targets))
    print(f"BR, ASA, UE, CO: means at delivered k = {at}, interpolated in log k.\n")
    print("| method | settings compared (left out) | chosen (max BR) | BR | ASA | UE | CO | max ASA, if another | "
          "images | K asked |")
    print("|---|---:|---|---:|---:|---:|---:|---|---:|---|")
    for family in sorted(families):
        tried = families[family]
        best = max(tried, key=lambda t: (t[1]["br"], t[1]["asa"]))
        best_asa = max(tried, key=lambda t: (t[1]["asa"], t[1]["br"]))
        other = "" if best_asa[0] == best[0] else f"`{best_asa[0]}` ({best_asa[1]['asa']:.4f})"
        m = best[1]
        print(f"| {family} | {len(tried)} ({left_out[family]}) | `{best[0]}` | {m['br']:.4f} | {m['asa']:.4f} | {m['ue']:.4f} | "
              f"{m['co']:.4f} | {other} | {best[3]} | {best[2]} |")


if __name__ == "__main__":
    main()
