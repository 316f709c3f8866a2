"""Check the targets of the "reproduce and beat the paper" issue on a benchmark summary.

    python scripts/targets.py docs/benchmarks/bsds500-test/summary.csv [--method lnsnet] [-o docs/targets.md]
        [--extra OTHER/summary.csv ...] [--baselines slic,lsc:ratio=0.025,...]

``--extra`` adds the rows of other summaries of the same images (e.g. the classic methods
at their val-tuned settings, ``docs/benchmarks/bsds500-test-valtuned``), each method from
the first file that has it (so a newer run of ``lnsnet`` given first is not mixed with an
older one's); ``--baselines``
names the methods to compare with (default: SLIC, SLICO, LSC, SEEDS, SNIC at their
defaults); the CO of each at the same k is listed beside.

Methods are compared at the number of segments they deliver: a baseline's metric is
interpolated (piecewise linear in log k) at the k that LNS-Net delivers at each K; where
that k lies outside the baseline's measured range, the end segment is extended and the
value is marked ``*`` (extrapolated). The released LNS-Net checkpoint's figures (measured
with the same evaluator, ``../shared/docs/upstream-facts.md``) are compared the other way
round: our curve is interpolated at the k the released model delivers.
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

BASELINES = ("slic", "slico", "lsc", "seeds", "snic")
HIGHER = {"asa": True, "br": True, "ue": False, "co": True}
SHORT = {"asa": "ASA", "br": "BR", "ue": "UE", "co": "CO"}
# the released checkpoint, all 200 BSDS500 test images, best annotator, r=1 (upstream-facts.md)
RELEASED = [
    dict(K=100, k=180, asa=0.9547, br=0.711, ue=0.090, co=0.196),
    dict(K=200, k=369, asa=0.9666, br=0.786, ue=0.067, co=0.211),
    dict(K=400, k=798, asa=0.9751, br=0.857, ue=0.050, co=0.233),
    dict(K=600, k=1324, asa=0.9787, br=0.895, ue=0.042, co=0.249),
]


def read(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def curve(rows, method, metric):
    """Sorted unique ``(log k, value)`` points of ``method``."""
    pts = {}
    for r in rows:
        if r["method"] == method:
            pts[float(r["k_delivered"])] = float(r[metric])
    return sorted((math.log(k), v) for k, v in pts.items())


def interp(pts, k):
    """Value at ``k`` and whether it was extrapolated."""
    x = math.log(k)
    if len(pts) == 1:
        return pts[0][1], abs(x - pts[0][0]) > 1e-9
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if x0 <= x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0), False
    (x0, y0), (x1, y1) = (pts[0], pts[1]) if x < pts[0][0] else (pts[-2], pts[-1])
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0), True


def baseline_at(rows, method, metric, k):
    """``(value, extrapolated)`` of ``method``'s ``metric`` at ``k`` delivered segments, or
    None if the summary has no rows of it."""
    pts = curve(rows, method, metric)
    return interp(pts, k) if pts else None


def check(rows, method="lnsnet", baselines=BASELINES):
    ours = sorted((r for r in rows if r["method"] == method), key=lambda r: int(r["k_asked"]))
    if not ours:
        raise SystemExit(f"no rows of method {method!r}")
    baselines = tuple(baselines)
    lines = ["| K | k | metric | ours | " + " | ".join(baselines) + " | beats all |", "|---" * (5 + len(baselines)) + "|"]
    results = []
    for r in ours:
        k = float(r["k_delivered"])
        for metric in ("asa", "br", "ue"):
            v = float(r[metric])
            cells, ok_all = [], True
            for b in baselines:
                at = baseline_at(rows, b, metric, k)
                if at is None:
                    cells.append("-")
                    continue
                bv, extra = at
                ok = v > bv if HIGHER[metric] else v < bv
                ok_all &= ok
                cells.append(f"{bv:.4f}{'*' if extra else ''}{'' if ok else ' **(lose)**'}")
            results.append((int(r["k_asked"]), SHORT[metric], ok_all))
            lines.append(f"| {r['k_asked']} | {k:.0f} | {SHORT[metric]} | {v:.4f} | " + " | ".join(cells)
                         + f" | {'yes' if ok_all else '**no**'} |")
        cos = [baseline_at(rows, b, "co", k) for b in baselines]  # beside, not a check
        cells = ["-" if at is None else f"{at[0]:.4f}{'*' if at[1] else ''}" for at in cos]
        lines.append(f"| {r['k_asked']} | {k:.0f} | (CO) | {float(r['co']):.4f} | " + " | ".join(cells) + " | |")
    lines += ["", f"Compactness of `{method}` against LSC at the same k:", "",
              "| K | k | CO ours | CO LSC at that k | ours >= LSC |", "|---|---|---|---|---|"]
    lsc = curve(rows, "lsc", "co")
    for r in ours:
        k = float(r["k_delivered"])
        bv, extra = interp(lsc, k) if lsc else (float("nan"), False)
        ok = float(r["co"]) >= bv
        results.append((int(r["k_asked"]), "CO>=LSC", ok))
        lines.append(f"| {r['k_asked']} | {k:.0f} | {float(r['co']):.4f} | {bv:.4f}{'*' if extra else ''} | "
                     f"{'yes' if ok else '**no**'} |")
    lines += ["", "Against the released checkpoint (ours interpolated at the k it delivers):", "",
              "| released K | released k | metric | released | ours at that k | better |", "|---|---|---|---|---|---|"]
    for rel in RELEASED:
        for metric in ("asa", "br", "ue", "co"):
            v, extra = interp(curve(rows, method, metric), rel["k"])
            ok = v > rel[metric] if HIGHER[metric] else v < rel[metric]
            if metric != "co":
                results.append((rel["K"], f"released {SHORT[metric]}", ok))
            lines.append(f"| {rel['K']} | {rel['k']} | {SHORT[metric]} | {rel[metric]:.4f} | {v:.4f}{'*' if extra else ''} | "
                         f"{'yes' if ok else '**no**'} |")
    k100 = next((r for r in ours if int(r["k_asked"]) == 100), None)
    if k100 is not None:
        lines += ["", f"Stretch (the paper's headline read literally): ASA {float(k100['asa']):.4f} at k = "
                      f"{float(k100['k_delivered']):.0f} against 0.962 at about 100: "
                      f"{'met' if float(k100['asa']) >= 0.962 else 'not met'}."]
    lines += ["", "`*`: the baseline's measured k range does not reach this k; its end segment is extended."]
    return "\n".join(lines), results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("summary", help="summary.csv of lnsnet benchmark")
    ap.add_argument("--method", default="lnsnet")
    ap.add_argument("-o", "--output", help="also write the Markdown here")
    ap.add_argument("--extra", nargs="*", default=[],
                    help="more summary.csv files: their methods not in an earlier file are added")
    ap.add_argument("--baselines", default=",".join(BASELINES), help="comma-separated methods to compare with")
    args = ap.parse_args()
    rows = read(args.summary)
    for path in args.extra:  # a method of an earlier file (the main one first) keeps its rows
        seen = {r["method"] for r in rows}
        rows += [r for r in read(path) if r["method"] not in seen]
    text, results = check(rows, args.method, args.baselines.split(","))
    print(text)
    failed = [f"K={k} {what}" for k, what, ok in results if not ok]
    print(f"\n{len(results) - len(failed)} of {len(results)} checks pass" + (f"; missed: {', '.join(failed)}" if failed else ""))
    if args.output:
        extra = "".join(f" --extra {p}" for p in args.extra)
        if args.baselines != ",".join(BASELINES):
            extra += f" --baselines {args.baselines}"
        Path(args.output).write_text(f"# Targets check: `{args.method}`\n\nMade by `python scripts/targets.py "
                                     f"{args.summary} --method {args.method}{extra}`.\n\n{text}\n")


if __name__ == "__main__":
    main()
