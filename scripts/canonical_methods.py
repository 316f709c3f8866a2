"""Give benchmark rows of ``lnsnet:...`` their full clustering settings in the method name.

    python scripts/canonical_methods.py ROWS.csv [--defaults 3,3,3,3] [-o OUT.csv]

Rows run before the local-mode defaults last changed name only the options they set; the
others were the defaults of that time (``--defaults compactness,edge_scale,iterations,
smoothing``; 3,3,3,3 before the evening of 2026-11-26). Rows named ``lnsnet`` or with
``clustering=paper`` are left alone unless ``--all``. The benchmark rebuilds the summary
from the renamed rows when rerun on the folder with the new names.
"""
import argparse
import csv

KEYS = ("compactness", "edge_scale", "iterations", "smoothing")  # feature_contrast came later (0 before)


def canonical(method: str, defaults: dict, rename_plain: bool) -> str:
    head, *parts = method.split(":")
    if head != "lnsnet" or "clustering=paper" in parts or (not parts and not rename_plain):
        return method
    opts = dict(p.split("=", 1) for p in parts)
    extra = [p for p in parts if p.split("=", 1)[0] not in KEYS]
    full = [f"{k}={opts.get(k, defaults[k])}" for k in KEYS]
    return ":".join(["lnsnet"] + full + extra)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rows")
    ap.add_argument("--defaults", default="3,3,3,3")
    ap.add_argument("--all", action="store_true", help="also rename rows named plain 'lnsnet'")
    ap.add_argument("-o", "--out")
    a = ap.parse_args()
    defaults = dict(zip(KEYS, a.defaults.split(",")))
    with open(a.rows, newline="") as fh:
        reader = csv.DictReader(fh)
        fields, rows = reader.fieldnames, list(reader)
    for r in rows:
        r["method"] = canonical(r["method"], defaults, a.all)
    with open(a.out or a.rows, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    print(sorted({r["method"] for r in rows}))


if __name__ == "__main__":
    main()
