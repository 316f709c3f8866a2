"""How many torch operations each stage of the GPU path takes a batch, counted without a GPU.

    NUMBA_ENABLE_CUDASIM=1 python benchmarks/gpu_op_count.py [--size 60x80] [--k 20] [--batch 1]

On a GPU at batch 1 the path is bound by the host: each torch operation and each kernel
launch costs about 10-15 microseconds of Python and driver time, whatever its size. This
counts them on CPU tensors, with the CUDA kernels run by numba's simulator: torch's
profiler over each stage (views, allocations and scalar reads left out), the kernel
launches beside. Rows: the encoding by the kernels and by torch operations (the fallback),
the network and the seeds' sampling (the CPU's network path, not the GPU's), the
clustering (kernels), the connectivity by its kernels and by torch operations.
"""

import argparse
import collections
import os
import sys


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="60x80", help="HxW of the test image (a crop of the shipped example)")
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--batch", type=int, default=1)
    args = ap.parse_args(argv)
    if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
        sys.exit("run with NUMBA_ENABLE_CUDASIM=1 (the kernels on the CPU)")
    from pathlib import Path

    import numpy as np
    import torch
    from torch.profiler import ProfilerActivity, profile

    import lnsnet
    from lnsnet.cluster import ClusterOptions
    from lnsnet.cluster import cuda as ck
    from lnsnet.cluster.gpu import cluster_batch
    from lnsnet.connectivity import enforce_connectivity_torch
    from lnsnet.grid import make_grid
    from lnsnet.io import read_image
    from lnsnet.prepare import encode_on, prepare

    h, w = (int(v) for v in args.size.split("x"))
    example = Path(lnsnet.__file__).parent / "examples" / "coffee.jpg"
    im = np.ascontiguousarray(read_image(example)[:h, :w])
    net, opts, cpu, k = lnsnet.load_model(), ClusterOptions.parse("compact"), torch.device("cpu"), args.k
    free = {"as_strided", "select", "slice", "view", "unsqueeze", "narrow", "detach", "resolve_conj", "resolve_neg",
            "expand", "permute", "reshape", "t", "transpose", "alias", "lift_fresh", "_reshape_alias", "squeeze", "item",
            "_local_scalar_dense", "empty", "empty_strided", "to", "numpy_T", "is_nonzero", "contiguous",
            "_unsafe_view", "split", "unbind", "result_type"}
    launches = collections.Counter()
    launch = ck.Launcher.launch

    def counted(self, name, shape, *a):
        launches[name] += 1
        return launch(self, name, shape, *a)

    ck.Launcher.launch = counted

    def count(fn):
        fn()  # warm: compiled, cached
        launches.clear()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            out = fn()
        ops = sum(e.count for e in prof.key_averages() if e.key.startswith("aten::") and e.key[6:] not in free)
        return ops, sum(launches.values()), out

    preps = lambda: [prepare(im, defer=True, blur=opts.blur, n_segments=k) for _ in range(args.batch)]
    rows = []
    with torch.inference_mode():
        ops, kl, (x, sc) = count(lambda: encode_on(preps(), cpu, kernels=True))
        rows.append(("encoding, kernels", ops, kl))
        rows.append(("encoding, torch operations",) + count(lambda: encode_on(preps(), cpu, kernels=False))[:2])
        grid = make_grid(h, w, k)
        colour = x[:, :3] * torch.from_numpy(sc)[:, :, None, None]
        extras = colour * opts.input_weight

        def network():
            z = net.embed(x)
            pos = grid.centres().to(cpu, z.dtype)[None].expand(z.shape[0], -1, -1)
            return z, pos, torch.cat([net.seed_features(z, pos), net.seed_features(extras, pos)], 2)

        ops, kl, (z, pos, sf) = count(network)
        rows.append(("network and seeds (CPU path)", ops, kl))
        ops, kl, raw = count(lambda: cluster_batch(z, colour, grid, sf, pos, opts, extras))
        rows.append(("clustering, kernels", ops, kl))
        feats = x[:, :3].permute(0, 2, 3, 1)
        for name, flag in (("connectivity, kernels", True), ("connectivity, torch operations", False)):
            ops, kl, _ = count(lambda: enforce_connectivity_torch(raw, feats, k, opts.min_size_factor,
                                                                  opts.max_segments(k), kernels=flag))
            rows.append((name, ops, kl))
    print(f"{args.batch} image(s) of {h}x{w}, K={k}: torch operations and CUDA kernel launches a batch")
    for name, ops, kl in rows:
        print(f"  {name:34s} {ops:5d} operations  {kl:3d} launches")


if __name__ == "__main__":
    main()
