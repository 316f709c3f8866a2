"""Compare every method on the images another run covered (e.g. RIM, run on a GPU on a
subset of BSDS500 test): keep the base run's rows for those images, add the other rows,
write rows.csv, summary.csv and summary.md.

    python scripts/subset_summary.py docs/benchmarks/rim-test-subset/rim_rows.csv \
        --base docs/benchmarks/bsds500-test/rows.csv.gz -o docs/benchmarks/rim-test-subset

Either input may be gzip-compressed (``.gz``). The rows.csv it writes is derived from the
two inputs, so ``docs/benchmarks/rim-test-subset`` does not keep it.

Only images on which the extra run has every K it has anywhere are kept, so each method
is averaged over exactly the same images.
"""

import argparse
import csv
import gzip
from pathlib import Path

from lnsnet.eval.benchmark import write_summary, summarize


def _read(path):
    """The rows of a rows.csv, plain or gzip-compressed."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", newline="") as fh:
        return list(csv.DictReader(fh))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("extra", help="rows.csv of the subset run")
    ap.add_argument("--base", required=True, help="rows.csv of the full run")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args(argv)
    extra = _read(args.extra)
    ks = {r["k_asked"] for r in extra}
    by_image: dict[str, set] = {}
    for r in extra:
        by_image.setdefault(r["image"], set()).add(r["k_asked"])
    images = {im for im, got in by_image.items() if got == ks}
    base = [r for r in _read(args.base) if r["image"] in images and r["k_asked"] in ks]
    rows = [r for r in extra if r["image"] in images] + base
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "rows.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(extra[0].keys()), lineterminator="\n")
        w.writeheader()
        w.writerows(sorted(rows, key=lambda r: (r["method"], int(r["k_asked"]), r["image"])))
    summary = summarize(rows)
    write_summary(summary, out)
    print(f"{len(images)} images, K {sorted(ks, key=int)}, methods {sorted({r['method'] for r in rows})}")
    print((out / "summary.md").read_text())


if __name__ == "__main__":
    main()
