"""Do the labels of this checkout equal those of another commit? And where not, the scores.

    python benchmarks/same_labels.py --against HEAD [--images 50] [--k 100,400,1000]
        [--clustering compact,fast,paper] [--threads 2]
    python benchmarks/same_labels.py --against HEAD --stack A.tif --stack B.tif --k 100,500,2000
        [--boundaries bright]

With ``--stack`` (repeatable): the supervoxels of those volume files (their own voxel
size, else 1, 1, 1; the 3-D default) instead, maps equal and k before -> after.
``--boundaries bright`` (or ``dark``): the boundary flood's labels instead of the
clustering's, of the images or the stacks.

For a change meant to keep the labels (speed work): ``segment`` on the first N BSDS500 val
images with each preset and K, here and at the commit ``--against`` (checked out in a
temporary git worktree and run in a subprocess with its own ``src`` first on the path;
its numba kernels compile on the first run), the same thread count for both. Prints, per
preset and K, the label maps equal bit for bit, the mean fraction of pixels with the same
label, and ASA, BR (best annotator) and CO before -> after (``lnsnet.eval.metrics.score``).
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import add_root  # benchmarks/_common.py, beside this file

REPO = Path(__file__).resolve().parents[1]


def _labels(root, n, ks, presets, threads, stacks=(), boundaries=None):
    """{(preset, K, i): labels} from the ``lnsnet`` first on the path ({(stack, K): labels}
    with ``stacks``)."""
    import numba
    import torch

    import lnsnet
    from lnsnet.eval.datasets import BSDS500

    mode = {} if boundaries is None else {"boundaries": boundaries}
    torch.set_num_threads(threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    if stacks:
        from lnsnet.io import read_volume

        out = {}
        for i, f in enumerate(stacks):
            v, sp = read_volume(f)
            for k in ks:
                out[f"stack{i}:{k}"] = lnsnet.segment(v, k, channel_axis=None, spacing=sp or (1.0, 1.0, 1.0),
                                                          **mode)
        return out
    ds = BSDS500(root, split="val")
    if boundaries is not None:
        return {f"flood:{k}:{i}": lnsnet.segment(ds[i].image, k, **mode) for i in range(n) for k in ks}
    net = lnsnet.load_model()
    return {f"{p}:{k}:{i}": lnsnet.segment(ds[i].image, k, model=net, clustering=p)
            for i in range(n) for p in presets for k in ks}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_root(ap)
    ap.add_argument("--against", default="HEAD", help="the commit to compare with (default HEAD)")
    ap.add_argument("--images", type=int, default=50)
    ap.add_argument("--k", default="100,400,1000")
    ap.add_argument("--clustering", default="compact,fast,paper")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--stack", action="append", default=[], help="a volume file: its supervoxels (repeatable)")
    ap.add_argument("--boundaries", choices=("bright", "dark"), help="the boundary flood's labels instead")
    ap.add_argument("--dump", help=argparse.SUPPRESS)  # the subprocess's side: write the labels here
    args = ap.parse_args(argv)
    ks = [int(k) for k in args.k.split(",")]
    presets = ["flood"] if args.boundaries else args.clustering.split(",")

    import numpy as np

    if args.dump:
        np.savez_compressed(args.dump, **_labels(args.root, args.images, ks, presets, args.threads, args.stack,
                                                 args.boundaries))
        return
    stacks = [str(Path(f).resolve()) for f in args.stack]
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(tree), args.against], check=True)
        try:
            dump = Path(tmp) / "before.npz"
            env = dict(os.environ, PYTHONPATH=str(tree / "src"))
            cmd = [sys.executable, str(Path(__file__).resolve()), "--root", args.root, "--images", str(args.images),
                   "--k", args.k, "--clustering", args.clustering, "--threads", str(args.threads), "--dump", str(dump)]
            cmd += [a for f in stacks for a in ("--stack", f)]
            cmd += ["--boundaries", args.boundaries] if args.boundaries else []
            subprocess.run(cmd, check=True, env=env, cwd=tmp)
            before = dict(np.load(dump))
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], check=False)
    after = _labels(args.root, args.images, ks, presets, args.threads, stacks, args.boundaries)
    if stacks:
        for i, f in enumerate(stacks):
            for k in ks:
                a, b = before[f"stack{i}:{k}"], after[f"stack{i}:{k}"]
                print(f"{Path(f).name} K={k}: maps equal {np.array_equal(a, b)}  k {a.max()} -> {b.max()}")
        return

    from lnsnet.eval.datasets import BSDS500
    from lnsnet.eval.metrics import score

    ds = BSDS500(args.root, split="val")
    print(f"{args.images} BSDS500 val images, {args.threads} threads: {args.against} -> this checkout")
    for p in presets:
        for k in ks:
            rows = []
            for i in range(args.images):
                a, b = before[f"{p}:{k}:{i}"], after[f"{p}:{k}:{i}"]
                s = ds[i]
                sa, sb = score(a, s.ground_truths, s.image), score(b, s.ground_truths, s.image)
                rows.append([np.array_equal(a, b), (a == b).mean(), sa["asa_best"], sb["asa_best"],
                             sa["br_best"], sb["br_best"], sa["co"], sb["co"]])
            m = np.mean(rows, 0)
            print(f"{p:8s} K={k:5d} maps equal {int(round(m[0] * len(rows)))}/{len(rows)}  pixels equal {m[1]:.5f}  "
                  f"ASA {m[2]:.4f} -> {m[3]:.4f}  BR {m[4]:.4f} -> {m[5]:.4f}  CO {m[6]:.4f} -> {m[7]:.4f}")


if __name__ == "__main__":
    main()
