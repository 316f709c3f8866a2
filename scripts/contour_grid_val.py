"""The choice of the contour head's strength and the compactness (issue 18), on val only:
BSDS500 val (first 50), SBD val (first 50 of Stutz et al.'s list), DSB2018 (all 65),
K = 100 / 400 / 1000, one line of BR / ASA / CO per (set, model, clustering spec) appended
to a log; ``--table LOG`` prints the table with the rule (CO at least the reference's at
every K on every set, then BR and ASA). Needs ``../shared/data`` (or ``--data``)."""
import argparse, json, os
import numpy as np, torch
import lnsnet
from lnsnet.eval.datasets import BSDS500, FolderDataset
from lnsnet.eval.metrics import score

KS = (100, 400, 1000)


def dataset(name, data):
    if name == "bsds":
        return BSDS500(os.path.join(data, "bsds500"), split="val"), 50
    if name == "sbd":
        names = [l.strip() for l in open(os.path.join(data, "sbd/splits/stutz_val_238.txt"))][:50]
        return FolderDataset(os.path.join(data, "sbd/images"), os.path.join(data, "sbd/labels"), names=names,
                             ignore_label=0), 50
    return FolderDataset(os.path.join(data, "dsb2018-nuclei/images"), os.path.join(data, "dsb2018-nuclei/labels")), 65


def run(a):
    torch.set_num_threads(1)
    ds, n = dataset(a.set, a.data)
    net = lnsnet.load_model(a.model)
    res = {k: [] for k in KS}
    for i in range(n):
        s = ds[i]
        for k in KS:
            sc = score(lnsnet.segment(s.image, k, model=net, clustering=a.spec), s.ground_truths, s.image,
                       ignore=getattr(ds, "ignore_label", None))
            res[k].append([sc["br_best"], sc["asa_best"], sc["co"], sc["n_segments"]])
    rec = {"set": a.set, "model": a.model, "spec": a.spec,
           **{f"{m}{k}": float(np.mean(np.array(res[k])[:, j])) for k in KS for j, m in enumerate(("br", "asa", "co", "k"))}}
    with open(a.log, "a") as fh:
        fh.write(json.dumps(rec) + "\n")
    print(rec, flush=True)


def table(log, ref_model, ref_spec):
    recs = [json.loads(l) for l in open(log)]
    ref = {r["set"]: r for r in recs if r["model"] == ref_model and r["spec"] == ref_spec}
    keep = {}
    for r in recs:
        keep.setdefault((r["model"], r["spec"]), {})[r["set"]] = r
    print("| set | model | spec | BR K=100 / 400 / 1000 | ASA K=100 / 400 / 1000 | CO K=100 / 400 / 1000 | CO >= reference's | on all three |")
    print("|---|---|---|---|---|---|---|---|")
    for s in ("bsds", "sbd", "dsb"):
        for (m, spec), by in keep.items():
            if s not in by or s not in ref:
                continue
            r = by[s]
            ok = {t: all(by[t][f"co{k}"] >= ref[t][f"co{k}"] - 1e-9 for k in KS) for t in by if t in ref}
            every = all(ok.get(t, False) for t in ("bsds", "sbd", "dsb"))
            f = lambda p, d: " / ".join(f"{r[f'{p}{k}']:.{d}f}" for k in KS)  # noqa: E731
            name = os.path.basename(m).replace(".pt", "")
            print(f"| {s} | {name} | {spec} | {f('br', 4)} | {f('asa', 4)} | {f('co', 3)} | "
                  f"{'yes' if ok.get(s) else 'no'} | {'**yes**' if every else 'no'} |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", choices=("bsds", "sbd", "dsb"))
    ap.add_argument("--model", default="bsds500")
    ap.add_argument("--spec", default="compact")
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
    ap.add_argument("--log", default="contour_grid.jsonl")
    ap.add_argument("--table", default=None, help="print the table of this log")
    ap.add_argument("--ref", default="bsds500,compact", help="the reference row: model,spec")
    a = ap.parse_args()
    if a.table:
        table(a.table, *a.ref.split(",", 1))
    else:
        run(a)
