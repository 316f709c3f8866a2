"""Table 1 of the paper (K=100, BSDS500 test), remade from a benchmark summary, plus the
headline table (every K) for README.

    python scripts/table1.py docs/benchmarks/bsds500-test/summary.csv [--k 100]
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
}
NAMES = {"lnsnet": "LNS-Net (ours, shipped model)", "slic": "SLIC (scikit-image)", "slico": "SLICO (scikit-image)",
         "lsc": "LSC (OpenCV)", "seeds": "SEEDS (OpenCV)", "snic": "SNIC (pysnic)", "ers": "ERS (ours, numba)"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("summary")
    ap.add_argument("--k", type=int, default=100)
    args = ap.parse_args()
    rows = list(csv.DictReader(open(args.summary)))
    import lnsnet
    from lnsnet.cli import model_summary

    s = model_summary(lnsnet.load_model())
    print(f"### Table 1, remade: K = {args.k}, BSDS500 test ({rows[0]['n_images']} images), this machine\n")
    print("| method | k delivered | time / image (CPU, 1 thread) | FLOPs | parameters | ASA | BR | needs labels | paper: time, device, ASA |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if int(r["k_asked"]) != args.k:
            continue
        m = r["method"]
        flops = f"{s['flops_fem'] / 2e9:.2f} G MACs" if m == "lnsnet" else "-"
        params = f"{s['params_fem'] + s['params_sel']:,}" if m == "lnsnet" else "-"
        paper = ", ".join(PAPER[m]) if m in PAPER else "-"
        print(f"| {NAMES.get(m, m)} | {float(r['k_delivered']):.1f} | {float(r['time_s_median']) * 1000:.0f} ms | "
              f"{flops} | {params} | {float(r['asa']):.4f} | {float(r['br']):.4f} | no | {paper} |")
    print("\n### Every K (means over images; best annotator, r = 1)\n")
    print("| method | K | k delivered | ASA | BR | BP | F (beta 4) | UE | CO | EV | time / image |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: (r["method"] != "lnsnet", r["method"], int(r["k_asked"]))):
        print(f"| {r['method']} | {r['k_asked']} | {float(r['k_delivered']):.1f} | {float(r['asa']):.4f} | "
              f"{float(r['br']):.4f} | {float(r['bp']):.4f} | {float(r['f']):.4f} | {float(r['ue']):.4f} | "
              f"{float(r['co']):.4f} | {float(r['ev']):.4f} | {float(r['time_s_median']) * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
