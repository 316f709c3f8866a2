"""Rename methods in a benchmark folder: rows.csv, then summary.csv / summary.md and plots
rebuilt from the rows (the numbers are untouched).

    python scripts/rename_methods.py DIR [--rename OLD NEW ...] [--paper-default] [--lab-contrast]
        [--spell-defaults C,E,I,S [--all]] [--no-plots]

``--paper-default``: rows run while the paper's one-shot clustering was local mode's
default (before 2026-11-26, 21:00 UTC) get it spelt out: ``lnsnet`` becomes
``lnsnet:clustering=paper`` and ``lnsnet:OPTS`` becomes ``lnsnet:clustering=paper:OPTS``,
except where ``OPTS`` names a clustering preset, dense mode (whose default is still the
paper's clustering) or all four clustering options. A rerun of the benchmark with the new
names on the folder then finds these rows and skips them.

``--lab-contrast``: rows run while the compact preset was compactness 3.5 with the Potts
contrast on CIELAB only (2026-11-26, about 21:00 to 22:26 UTC) get that spelt out: ``lnsnet``
and every local-mode ``lnsnet:OPTS`` that is not the paper's clustering get
``compactness=3.5`` (unless ``OPTS`` sets it) and ``feature_contrast=0``.

``--spell-defaults C,E,I,S``: rows run while the local-mode defaults were
``compactness=C, edge_scale=E, iterations=I, smoothing=S`` (3,3,3,3 before the evening of
2026-11-26) and that name only some of those options get all four spelt out; rows named
``lnsnet`` (unless ``--all``) or naming a clustering preset are left alone.
"""
import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

KEYS = ("compactness", "edge_scale", "iterations", "smoothing")  # feature_contrast came later (0 before)


def defaults_spelt_out(method: str, defaults: dict, rename_plain: bool) -> str:
    head, *parts = method.split(":")
    if head != "lnsnet" or any(p.startswith("clustering=") for p in parts) or (not parts and not rename_plain):
        return method
    opts = dict(p.split("=", 1) for p in parts)
    extra = [p for p in parts if p.split("=", 1)[0] not in KEYS]
    return ":".join(["lnsnet"] + [f"{k}={opts.get(k, defaults[k])}" for k in KEYS] + extra)


def paper_spelt_out(method: str) -> str:
    head, *parts = method.split(":")
    if head != "lnsnet":
        return method
    keys = {p.split("=", 1)[0] for p in parts}
    values = {p.split("=", 1)[0]: p.split("=", 1)[-1] for p in parts}
    if "clustering" in keys or values.get("mode") == "dense" or set(KEYS) <= keys:
        return method
    return ":".join(["lnsnet", "clustering=paper"] + parts)


def lab_contrast_spelt_out(method: str) -> str:
    head, *parts = method.split(":")
    values = {p.split("=", 1)[0]: p.split("=", 1)[-1] for p in parts}
    if (head != "lnsnet" or values.get("clustering") == "paper" or values.get("mode") == "dense"
            or "feature_contrast" in values):
        return method
    extra = [] if "compactness" in values else ["compactness=3.5"]
    return ":".join(["lnsnet"] + parts + extra + ["feature_contrast=0"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder")
    ap.add_argument("--rename", nargs=2, action="append", default=[], metavar=("OLD", "NEW"))
    ap.add_argument("--paper-default", action="store_true")
    ap.add_argument("--lab-contrast", action="store_true")
    ap.add_argument("--spell-defaults", metavar="C,E,I,S")
    ap.add_argument("--all", action="store_true", help="with --spell-defaults: also rows named plain 'lnsnet'")
    ap.add_argument("--no-plots", action="store_true")
    a = ap.parse_args()
    from lnsnet.eval.benchmark import ROWS_FILE, SUMMARY_CSV, _read_rows, _write_summary, summarize

    folder = Path(a.folder)
    table = dict(a.rename)
    rows = _read_rows(folder / ROWS_FILE)
    if not rows:
        raise SystemExit(f"no rows in {folder / ROWS_FILE}")
    fields = list(rows[0].keys())
    before = sorted({r["method"] for r in rows})
    defaults = dict(zip(KEYS, a.spell_defaults.split(","))) if a.spell_defaults else None

    def new_name(m):
        if m in table:
            return table[m]
        m = defaults_spelt_out(m, defaults, a.all) if defaults else m
        m = paper_spelt_out(m) if a.paper_default else m
        return lab_contrast_spelt_out(m) if a.lab_contrast else m

    for r in rows:
        r["method"] = new_name(r["method"])
    after = sorted({r["method"] for r in rows})
    if len(after) != len(before):
        raise SystemExit(f"two methods would get one name: {before} -> {after}")
    with open(folder / ROWS_FILE, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    _write_summary(summarize(rows), folder)
    if not a.no_plots:
        from lnsnet.eval.plots import plot_summary

        plot_summary(folder / SUMMARY_CSV, folder)
    for b, c in zip(before, [new_name(m) for m in before]):
        print(f"{b} -> {c}" if b != c else f"{b} (unchanged)")


if __name__ == "__main__":
    main()
