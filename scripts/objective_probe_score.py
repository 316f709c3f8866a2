"""Score for the objective probe (issue 18): a probe embedder (``.mod``, torch-saved by
objective_probe.py --context), a model file or name, ``none``, or ``oracle`` (one random
8-vector per region of a randomly drawn human annotation, times --alpha: what perfect
region features would add) through lnsnet.segment on the first 50 BSDS500 val images,
K = 100, 400, 1000, best annotator, r = 1. Temporary, with objective_probe.py.

    python scripts/objective_probe_score.py MODEL SPEC [SPEC ...] [--alpha 2]
"""
import argparse
import sys

import numpy as np
import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import objective_probe  # noqa: E402

import __main__  # noqa: E402
import lnsnet  # noqa: E402
from lnsnet.eval.datasets import BSDS500  # noqa: E402
from lnsnet.eval.metrics import score  # noqa: E402
from lnsnet.hub import baseline_model, load_model  # noqa: E402
from lnsnet.model.embedder import InputEmbedder  # noqa: E402

__main__.ContextEmbedder = objective_probe.ContextEmbedder  # torch.load finds the class


class Given(InputEmbedder):
    """Features from a probe module, or given per image (the oracle)."""

    def __init__(self, module=None, channels=3):
        super().__init__(module.out_channels if module is not None else channels)
        self.m = module.eval() if module is not None else None
        self.z = None

    def forward(self, x):
        if self.z is not None:
            return self.z
        with torch.no_grad():
            return self.m(x) if self.m is not None else x[:, :3]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("specs", nargs="+")
    ap.add_argument("--alpha", type=float, default=2.0)
    ap.add_argument("--images", type=int, default=50)
    ap.add_argument("--scale", type=float, default=1.0, help="felzenszwalb: scale / sqrt(pixels)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    oracle = args.model in ("oracle", "felzenszwalb")
    if args.model.endswith(".mod") or oracle:
        net = baseline_model("none")
        net.embedder = Given(None if oracle else torch.load(args.model, weights_only=False))
    else:
        net = load_model(args.model)
    ds = BSDS500(split="val")
    for spec in args.specs:
        rng = np.random.default_rng(0)
        res = {}
        for i in range(args.images):
            s = ds[i]
            if oracle:
                if args.model == "oracle":
                    g = s.ground_truths[rng.integers(len(s.ground_truths))]
                else:  # the probe's pseudo-regions of the image itself, no labels
                    g = objective_probe.pseudo_regions(s.image, args.scale)
                v = rng.normal(size=(g.max() + 1, 8)).astype(np.float32) / np.sqrt(8)
                net.embedder.z = torch.from_numpy(v[g].transpose(2, 0, 1).copy())[None] * args.alpha
            for k in (100, 400, 1000):
                sc = score(lnsnet.segment(s.image, k, model=net, clustering=spec), s.ground_truths, s.image)
                res.setdefault(k, []).append([sc["n_segments"], sc["asa_best"], sc["br_best"], sc["ue_best"], sc["co"]])
        for k, v in res.items():
            m = np.mean(v, 0)
            print(f"{args.model} {spec:32s} K={k:5d} k={m[0]:7.1f} ASA={m[1]:.4f} BR={m[2]:.4f} UE={m[3]:.4f} "
                  f"CO={m[4]:.3f}", flush=True)


if __name__ == "__main__":
    main()
