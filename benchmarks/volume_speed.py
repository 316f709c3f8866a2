"""Time (and with --memory, peak memory) of supervoxels: lnsnet's 3-D default (``lnsnet``;
``slabs``: its features made slab by slab, never kept whole; ``model``: with a 3-D model's
learned features beside the input, an untrained ``VolumeNet``), its boundary flood and
scikit-image's 3-D slic on the same volumes, each method in a fresh interpreter; with
``--base SRC`` also each lnsnet method of another checkout (``base-METHOD``).

    python benchmarks/volume_speed.py --stack ../shared/data/volumes-plantseg/volumes/gonuclear_1135.tif \\
        --stack ../shared/data/volumes-plantseg/volumes/ovule_sample.tif --k 100,1000 --threads 1
    python benchmarks/volume_speed.py --shape 64x512x512 --k 5000 --repeats 1 --memory

``--stack FILE`` (repeatable) times a stack at the voxel size its file records
(:func:`lnsnet.io.read_volume`; else 1, 1, 1); ``--shape ZxYxX`` (uint8) or ``ZxYxXxC``
(float32 in [0, 3], channels last) a synthetic volume (smoothed noise, spacing 1). Each method runs in its own spawned process: one
warm-up call on a tiny volume (numba's compilation and the imports out of the figures),
then, for every volume and K, ``--repeats`` timed calls, the median printed beside slic's
in the same run and their ratio. With ``--memory`` also the peak one call adds to the
resident memory (Linux's VmHWM after resetting it, minus VmRSS before), total and per
voxel, for the first volume and K only (the peak is the process's, so later calls would
not show their own). lnsnet's kernels use ``--threads`` threads; slic (numpy and Cython)
runs on one thread whatever it is given.
"""

import argparse
import math
import multiprocessing as mp
import statistics
import time

import numpy as np


def _status(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return -1


def synthetic(shape, seed=0) -> np.ndarray:
    """Smoothed noise: ``ZxYxX`` uint8, or ``ZxYxXxC`` float32 in [0, 3] (C channels that
    need lnsnet's stretch, the slowest rule)."""
    from scipy import ndimage

    sigma = (2, 2, 2, 0)[: len(shape)]
    v = ndimage.gaussian_filter(np.random.default_rng(seed).random(shape, dtype=np.float32), sigma)
    v -= v.min()
    v /= v.max()
    return (v * 3).astype(np.float32) if len(shape) == 4 else (v * 255).astype(np.uint8)


def load(source: str):
    """``(name, volume, spacing)`` of a stack file or a ``ZxYxX`` (gray) or ``ZxYxXxC``
    (channels last) synthetic shape."""
    if source.startswith("shape:"):
        shape = tuple(int(s) for s in source[6:].lower().split("x"))
        return source[6:], synthetic(shape), (1.0, 1.0, 1.0)
    from pathlib import Path

    from lnsnet.io import read_volume

    vol, spacing = read_volume(source, max_voxels=None)
    return Path(source).name, vol, tuple(spacing) if spacing is not None else (1.0, 1.0, 1.0)


def _call(method: str):
    if method.startswith("base="):  # a method of another checkout's lnsnet (on sys.path: _child)
        method = method.rsplit("|", 1)[1]
    if method == "slabs":  # lnsnet's default with the features made slab by slab, never kept whole
        import lnsnet.volume

        lnsnet.volume.FEATURES_CACHE_BYTES = 0
    if method == "slic":
        from skimage.segmentation import slic

        return lambda v, k, sp: slic(v, k, channel_axis=None if v.ndim == 3 else -1, spacing=np.asarray(sp))
    import lnsnet

    assert method in ("lnsnet", "slabs", "flood", "model"), method
    extra = {"boundaries": "bright"} if method == "flood" else {}
    if method == "model":  # a 3-D model's features beside the input (an untrained one: its cost is the same)
        from lnsnet.volume_model import VolumeConfig, VolumeNet

        nets = {}

        def run(v, k, sp):
            c = 1 if v.ndim == 3 else v.shape[-1]
            net = nets.setdefault(c, VolumeNet(VolumeConfig(in_channels=c), seed=0))
            return lnsnet.segment(v, k, channel_axis=None if v.ndim == 3 else -1, spacing=sp, model=net)

        return run
    return lambda v, k, sp: lnsnet.segment(v, k, channel_axis=None if v.ndim == 3 else -1, spacing=sp, **extra)


def _child(method, sources, ks, repeats, threads, memory, queue):
    if method.startswith("base="):  # lnsnet from another checkout's src/ (--base), before any import of it
        import sys

        sys.path.insert(0, method[5:].rsplit("|", 1)[0])
    from lnsnet.runtime import set_threads

    set_threads(threads)
    fn = _call(method)
    fn(synthetic((8, 16, 16), 1), 10, (1.0, 1.0, 1.0))  # warm-up: imports and compiled kernels
    out = {}
    for source in sources:
        name, vol, sp = load(source)
        fn(np.ascontiguousarray(vol[:4, :16, :16]), 10, sp)  # the kernels for its dtype and channels
        for k in ks:
            if memory and not out:
                with open("/proc/self/clear_refs", "w") as fh:
                    fh.write("5")
                base = _status("VmRSS")
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                labels = fn(vol, k, sp)
                times.append(time.perf_counter() - t0)
                if memory and not out and len(times) == 1:
                    peak = _status("VmHWM") - base
                n = len(np.unique(labels))
                del labels
            out[(name, k)] = (statistics.median(times), n, math.prod(vol.shape[:3]),
                              peak if memory and len(out) == 0 else None)
    queue.put(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stack", action="append", default=[], help="a volume file (repeatable)")
    ap.add_argument("--shape", action="append", default=[],
                    help="a synthetic ZxYxX volume (uint8), or ZxYxXxC (float32 channels) (repeatable)")
    ap.add_argument("--k", default="100,1000", help="comma-separated K (default %(default)s)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2, help="lnsnet's threads (default 2)")
    ap.add_argument("--methods", default="lnsnet,flood,slic",
                    help="of lnsnet, slabs (lnsnet's features made slab by slab, never kept whole), "
                         "model (with an untrained 3-D model's features), flood, slic (default %(default)s)")
    ap.add_argument("--base", metavar="SRC", help="also each lnsnet method (lnsnet, flood) imported from SRC "
                    "(another checkout's src/ folder, e.g. a git worktree of the commit before), as 'base-METHOD'")
    ap.add_argument("--memory", action="store_true", help="also the peak memory of the first volume and K")
    a = ap.parse_args()
    sources = a.stack + [f"shape:{s}" for s in a.shape] or ["shape:64x512x512"]
    ks = [int(k) for k in a.k.split(",")]
    methods = a.methods.split(",")
    if a.base:
        methods = [f"base={a.base}|{m}" for m in methods if m in ("lnsnet", "flood", "model")] + methods
    ctx = mp.get_context("spawn")
    results = {}
    for method in methods:
        q = ctx.Queue()
        p = ctx.Process(target=_child, args=(method, sources, ks, a.repeats, a.threads, a.memory, q))
        p.start()
        results[method] = q.get()
        p.join()
    print(f"median of {a.repeats} calls; lnsnet on {a.threads} thread(s), slic on one")
    for key in results[methods[0]]:
        name, k = key
        line = [f"{name} K={k}:"]
        for method in methods:
            t, n, voxels, peak = results[method][key]
            shown = "base-" + method.rsplit("|", 1)[1] if method.startswith("base=") else method
            line.append(f"{shown} {t:.3f} s (k={n})")
            if "slic" in results and method != "slic":
                line.append(f"= {t / results['slic'][key][0]:.2f}x slic")
            if peak is not None:
                line.append(f"peak +{peak / 2**20:.0f} MiB ({peak / voxels:.1f} B a voxel)")
        print("  ".join(line), flush=True)


if __name__ == "__main__":
    main()
