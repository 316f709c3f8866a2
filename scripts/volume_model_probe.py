"""Probe: does a 3-D LNS-Net trained without labels beat its own input on supervoxels?

Trains lnsnet.volume_model.VolumeNet on a stream of synthetic volumes (scripts/volumes.py's
generator, seeds 10..), then on the unlabelled raw data of the other PlantSeg volumes
(leave one out: the volume scored is never trained on), and scores the 3-D clustering with
and without the learned features (model=None: the standardised input) at the same
compactness, K and delivered k.

    python scripts/volume_model_probe.py --steps 60 --synthetic 6
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from volumes import plantseg, synthetic  # noqa: E402

from lnsnet.eval.volumes import score_volume  # noqa: E402
from lnsnet.volume import segment_volume  # noqa: E402
from lnsnet.volume_model import VolumeTrainConfig, train_volumes  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--root", default=os.environ.get("LNSNET_VOLUMES", "../shared/data/volumes-plantseg"))
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--synthetic", type=int, default=6)
    p.add_argument("--ks", default="200,1000")
    p.add_argument("--compactness", type=float, default=10.0)
    a = p.parse_args()
    torch.manual_seed(0)
    ks = [int(k) for k in a.ks.split(",")]
    cfg = VolumeTrainConfig(steps=a.steps)
    syn = [synthetic(10 + i) for i in range(a.synthetic)]
    base = train_volumes([v for v, _, _ in syn], spacings=[s for _, _, s in syn], config=cfg)
    state = {k: v.clone() for k, v in base.state_dict().items()}
    data = list(plantseg(Path(a.root)))
    print("| volume | trained on | K | k (input) | ASA input | ASA learned | BR input | BR learned |")
    print("|---|---|---|---|---|---|---|---|")
    for name, vol, gt, sp, ign in data:
        for stream in ("synthetic", "synthetic + other PlantSeg volumes"):
            net = type(base)(base.config)
            net.load_state_dict(state)
            if stream != "synthetic":
                others = [(v, s) for n, v, _, s, _ in data if n != name]
                net = train_volumes([v for v, _ in others], spacings=[s for _, s in others], net=net, config=cfg)
            for k in ks:
                x = score_volume(segment_volume(vol, k, spacing=sp, compactness=a.compactness), gt, ignore=ign)
                y = score_volume(segment_volume(vol, k, spacing=sp, compactness=a.compactness, model=net), gt,
                                 ignore=ign)
                print(f"| {name} | {stream} | {k} | {x['k']} | {x['asa']:.4f} | {y['asa']:.4f} | {x['br']:.4f} | "
                      f"{y['br']:.4f} |", flush=True)
    for i in (20, 21):
        vol, gt, sp = synthetic(i)
        for k in ks:
            x = score_volume(segment_volume(vol, k, spacing=sp, compactness=a.compactness), gt)
            y = score_volume(segment_volume(vol, k, spacing=sp, compactness=a.compactness, model=base), gt)
            print(f"| synthetic_{i} (held out) | synthetic | {k} | {x['k']} | {x['asa']:.4f} | {y['asa']:.4f} | "
                  f"{x['br']:.4f} | {y['br']:.4f} |", flush=True)


if __name__ == "__main__":
    main()
