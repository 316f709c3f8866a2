"""Table 1 of the paper (K=100, BSDS500 test), remade from a benchmark summary, plus the
headline table (every K) for README.

    python scripts/table1.py docs/benchmarks/bsds500-test/summary.csv [--k 100] \
        [--extra docs/benchmarks/rim-test-subset/summary.csv:rim] \
        [--extra docs/benchmarks/bsds500-test-valtuned/summary.csv:slic:compactness=20,lsc:ratio=0.025,...] \

``--extra SUMMARY:METHODS`` adds those methods' rows from another summary (e.g. RIM, run
on a GPU on a subset), marked with their image count. FLOPs are the multiply-adds of one
network forward pass at 481x321, counted from the layers (for RIM, one of its 500
training steps' forward passes).
"""

import argparse
import csv

PAPER = {  # Table 1 of Zhu et al. (CVPR 2021): time (ms), device, ASA; 481x321, 100 superpixels
    "snic": ("85", "CPU", "0.943"),
    "lsc": ("269", "CPU", "0.953"),
    "ers": ("2540", "CPU", "0.953"),
    "ssn": ("260", "GPU", "0.970"),
    "rim": ("34842", "GPU", "0.953"),
    "lnsnet": ("55", "GPU", "0.962"),
    "lnsnet:clustering=paper": ("55", "GPU", "0.962"),
    "lnsnet:clustering=compact": ("55", "GPU", "0.962"),
}
NAMES = {"lnsnet": "LNS-Net (ours, shipped model), the default (`fast`: the input and the contour head)",
         "lnsnet:clustering=compact": "LNS-Net (ours, shipped model), `clustering=\"compact\"`: the feature embedder too",
         "lnsnet:clustering=paper": "LNS-Net (ours, shipped model), the paper's clustering",
         "lnsnet:model=none": "the default's clustering on the CIELAB input, no network (`model=\"none\"`, compactness 32)",
         "lnsnet:model=none:compactness=24": "the same, compactness 24",
         "lnsnet:model=none:compactness=18": "the same, compactness 18 (about the default's CO)",
         "ssn": "SSN (ours, trained here)", "rim": "RIM (ours)", "slic": "SLIC (scikit-image)",
         "slico": "SLICO (scikit-image)", "lsc": "LSC (OpenCV)", "seeds": "SEEDS (OpenCV)", "snic": "SNIC (pysnic)",
         "ers": "ERS (ours, numba)"}
# the classic methods at their val-tuned settings; their test run shared the machine with a
# training run (2026-12-03), so their times are marked
TUNED = {"slic:compactness=20": "SLIC, tuned on val for recall (compactness 20)",
         "lsc:ratio=0.025": "LSC, tuned on val for recall (ratio 0.025)",
         "seeds:num_levels=5:prior=0": "SEEDS, tuned on val for recall (5 levels, prior 0)",
         "ers:lambda_prime=0.1": "ERS, tuned on val for recall (lambda' 0.1)"}
NAMES.update(TUNED)
# SNIC's val-tuned setting, run on test on 2026-12-04 on a quiet machine (two workers)
NAMES["snic:compactness=5"] = "SNIC, tuned on val for recall (compactness 5)"


LABELS = {"ssn": "yes"}



def _ms(row) -> str:
    """The median time in ms, or '-' when not measured (label maps made elsewhere)."""
    t = float(row["time_s_median"])
    return "-" if t != t else f"{t * 1000:.0f} ms"

def conv_macs(net, shape=(1, 5, 321, 481)) -> int:
    """Multiply-adds of one forward pass of ``net`` on ``shape``: half the FLOPs that
    ``torch.utils.flop_counter`` counts, as ``lnsnet info`` counts LNS-Net's."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as fc:
        net.eval()(torch.zeros(shape))
    return fc.get_total_flops() // 2


def _cost(method: str, k: int, lns: dict) -> tuple[str, str]:
    """(FLOPs, parameters) cells of a CNN method at K = k."""
    if method.split(":")[0] == "lnsnet":
        from lnsnet.eval.methods import lnsnet_clustering, lnsnet_model

        options = lnsnet_clustering(method)
        if lnsnet_model(method) == "none":  # no network: the clustering on its input
            return "-", "0"
        contour = options.contour > 0  # the preset runs the contour head
        fem = options.features == "learned" or options.seeds == "learned"
        flops = (lns["flops_fem"] if fem else 0) + (lns.get("flops_contour", 0) if contour else 0)
        params = ((lns["params_fem"] + lns["params_sel"]) if fem else 0) + (lns.get("params_contour", 0) if contour else 0)
        return f"{flops / 2e9:.2f} G MACs", f"{params:,}"
    if method in ("ssn", "rim"):
        from lnsnet.eval.rim import RIMNet
        from lnsnet.eval.ssn import SSNNet

        net = SSNNet() if method == "ssn" else RIMNet(k)
        macs = f"{conv_macs(net) / 1e9:.2f} G MACs" + (" x 500 steps" if method == "rim" else "")
        return macs, f"{sum(p.numel() for p in net.parameters()):,}"
    return "-", "-"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("summary")
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--extra", action="append", default=[], metavar="SUMMARY:METHODS")
    args = ap.parse_args()
    rows = list(csv.DictReader(open(args.summary)))
    n_main = rows[0]["n_images"]
    for spec in args.extra:
        path, _, methods = spec.partition(".csv:")  # method names hold colons too
        path += ".csv"
        keep = set(methods.split(","))
        rows += [r for r in csv.DictReader(open(path)) if r["method"] in keep]
    import lnsnet
    from lnsnet.cli import model_summary

    s = model_summary(lnsnet.load_model())
    print(f"### Table 1, remade: K = {args.k}, BSDS500 test ({n_main} images unless noted), this machine\n")
    print("The paper column is Table 1 of the LNS-Net paper (Zhu et al., CVPR 2021), which lists every")
    print("method at 100 superpixels on 481x321 images; it is the figure each baseline is compared with here.\n")
    print("| method | k delivered | time / image (CPU, 1 thread) | FLOPs | parameters | ASA | BR | CO | needs labels | paper: time, device, ASA |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    lns_first = sorted(rows, key=lambda r: (not r["method"].startswith("lnsnet"), r["method"] != "lnsnet"))  # ours first
    for r in lns_first:
        if int(r["k_asked"]) != args.k:
            continue
        m = r["method"]
        flops, params = _cost(m, args.k, s)
        paper = ", ".join(PAPER[m]) if m in PAPER else "-"
        name = NAMES.get(m, m) + ("" if r["n_images"] == n_main else f" ({r['n_images']} images; time on a shared H100)")
        if m in TUNED:
            name += " (time: one thread beside a training run)"
        print(f"| {name} | {float(r['k_delivered']):.1f} | {_ms(r)} | "
              f"{flops} | {params} | {float(r['asa']):.4f} | {float(r['br']):.4f} | {float(r['co']):.3f} | "
              f"{LABELS.get(m, 'no')} | {paper} |")
    print("\n### Every K (means over images; best annotator, r = 1)\n")
    print("| method | K | k delivered | ASA | BR | BP | F (beta 4) | UE | CO | EV | time / image |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: (not r["method"].startswith("lnsnet"), r["method"] != "lnsnet", r["method"],
                                         int(r["k_asked"]))):
        tag = "" if r["n_images"] == n_main else f" ({r['n_images']} images)"
        print(f"| {r['method']}{tag} | {r['k_asked']} | {float(r['k_delivered']):.1f} | {float(r['asa']):.4f} | "
              f"{float(r['br']):.4f} | {float(r['bp']):.4f} | {float(r['f']):.4f} | {float(r['ue']):.4f} | "
              f"{float(r['co']):.4f} | {float(r['ev']):.4f} | {_ms(r)} |")


if __name__ == "__main__":
    main()
