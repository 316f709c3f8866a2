"""Compare one method's per-image scores between two `lnsnet benchmark` output folders.

    python scripts/compare_runs.py OLD_DIR NEW_DIR [--method lnsnet]

Used to show that the fast inference path scores like the reference path: OLD_DIR is
docs/benchmarks/bsds500-test as of commit f639e31 (made before the compiled kernels), NEW_DIR
a fresh run of `lnsnet benchmark --methods lnsnet:clustering=paper --k 100,1000` on the same
images (the paper's clustering was the default then; see docs/performance.md).
"""

import argparse
import csv
from pathlib import Path


def _rows(folder, method):
    with open(Path(folder) / "rows.csv", newline="") as fh:
        return {(r["k_asked"], r["image"]): r for r in csv.DictReader(fh) if r["method"] == method}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--method", default="lnsnet")
    args = ap.parse_args(argv)
    old, new = _rows(args.old, args.method), _rows(args.new, args.method)
    common = sorted(set(old) & set(new), key=lambda x: (int(x[0]), x[1]))
    print(f"{args.method}: {len(common)} (K, image) rows in both")
    print(f"{'K':>6} {'metric':>10} {'old mean':>10} {'new mean':>10} {'mean diff':>10} {'max |diff|':>10} {'images differing':>17}")
    for k in sorted({c[0] for c in common}, key=int):
        keys = [c for c in common if c[0] == k]
        for m in ("asa_best", "br_best", "ue_best", "co", "k_delivered"):
            a = [float(old[c][m]) for c in keys]
            b = [float(new[c][m]) for c in keys]
            d = [y - x for x, y in zip(a, b)]
            print(f"{k:>6} {m:>10} {sum(a) / len(a):>10.5f} {sum(b) / len(b):>10.5f} {sum(d) / len(d):>10.2e} "
                  f"{max(map(abs, d)):>10.2e} {sum(x != 0 for x in d):>17}")
        ta = sorted(float(old[c]["time_s"]) for c in keys)
        tb = sorted(float(new[c]["time_s"]) for c in keys)
        print(f"{k:>6} {'time med':>10} {ta[len(ta) // 2] * 1e3:>9.0f}ms {tb[len(tb) // 2] * 1e3:>9.0f}ms")


if __name__ == "__main__":
    main()
