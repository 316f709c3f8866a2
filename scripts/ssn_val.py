"""SSN models on the first N BSDS500 val images (never test): ASA / BR / k at K.

    LNSNET_BSDS500=... python scripts/ssn_val.py 20 100 untrained src/lnsnet/weights/ssn_bsds500.pt

``untrained``: the network at its seed-0 initialisation (features of a random CNN plus the
scaled Lab/XY input), the baseline the training must beat.
"""

import statistics
import sys

import torch

from lnsnet.eval.datasets import BSDS500
from lnsnet.eval.metrics import score
from lnsnet.eval.ssn import SSNNet, ssn


def main(argv):
    n, k, models = int(argv[0]), int(argv[1]), argv[2:]
    torch.set_num_threads(1)
    ds = BSDS500(split="val")
    for m in models:
        if m == "untrained":
            torch.manual_seed(0)
            model = SSNNet().eval()
        else:
            model = m
        asa, br, kd = [], [], []
        for i in range(n):
            s = ds[i]
            sc = score(ssn(s.image, k, model=model, device="cpu"), s.ground_truths, image=s.image, r=1)
            asa.append(sc["asa_best"])
            br.append(sc["br_best"])
            kd.append(sc["n_segments"])
        print(f"{m}  K={k}  ASA {statistics.mean(asa):.4f}  BR {statistics.mean(br):.3f}  k {statistics.mean(kd):.1f}",
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
