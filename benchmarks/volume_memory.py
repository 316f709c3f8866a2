"""Time and peak memory of supervoxels on a large volume: lnsnet's 3-D default, its
boundary flood and scikit-image's 3-D slic, each in a fresh interpreter.

    python benchmarks/volume_memory.py [--shape 64x512x512] [--k 5000] [--repeats 3]
                                       [--threads 2] [--methods lnsnet,flood,slic]

The input is smoothed noise (a Gaussian of 2 voxels over uniform noise), uint8, spacing
1; every method gets the same volume and K. Each method runs in its own spawned process:
one warm-up call on a tiny volume (numba's compilation and imports out of the figures),
then ``--repeats`` timed calls; the peak is what the first call adds to the resident
memory (Linux's VmHWM after resetting it, minus VmRSS before), also per voxel. Prints one
line per method and the ratios to slic's time and peak. lnsnet's kernels use
``--threads`` threads; slic (numpy and Cython) one, as it runs.
"""

import argparse
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


def volume(shape, seed=0) -> np.ndarray:
    from scipy import ndimage

    v = ndimage.gaussian_filter(np.random.default_rng(seed).random(shape, dtype=np.float32), 2)
    v -= v.min()
    v /= v.max()
    return (v * 255).astype(np.uint8)


def _call(method: str):
    if method == "slic":
        from skimage.segmentation import slic

        return lambda v, k: slic(v, k, channel_axis=None)
    import lnsnet

    if method == "flood":
        return lambda v, k: lnsnet.segment(v, k, channel_axis=None, boundaries="bright")
    return lambda v, k: lnsnet.segment(v, k, channel_axis=None)


def _child(method, shape, k, repeats, threads, queue):
    from lnsnet.runtime import set_threads

    set_threads(threads)
    v = volume(shape)
    fn = _call(method)
    fn(volume((8, 16, 16), 1), 10)  # warm-up: imports and compiled kernels
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    base = _status("VmRSS")
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        labels = fn(v, k)
        times.append(time.perf_counter() - t0)
        if i == 0:
            peak = _status("VmHWM") - base
            n = len(np.unique(labels))
        del labels
    queue.put((statistics.median(times), peak, n))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", default="64x512x512", help="Z x Y x X (default %(default)s)")
    ap.add_argument("--k", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="lnsnet's threads (default 2)")
    ap.add_argument("--methods", default="lnsnet,flood,slic")
    a = ap.parse_args()
    shape = tuple(int(s) for s in a.shape.lower().split("x"))
    voxels = int(np.prod(shape))
    ctx = mp.get_context("spawn")
    results = {}
    for method in a.methods.split(","):
        q = ctx.Queue()
        p = ctx.Process(target=_child, args=(method, shape, a.k, a.repeats, a.threads, q))
        p.start()
        results[method] = q.get()
        p.join()
        t, peak, n = results[method]
        print(f"{method:7s} {a.shape} K={a.k}: k={n}, median {t:.2f} s over {a.repeats}, peak +{peak / 2**20:.0f} MiB "
              f"({peak / voxels:.1f} B a voxel; the uint8 input is 1)", flush=True)
    if "slic" in results:
        ts, ps, _ = results["slic"]
        for method, (t, peak, _) in results.items():
            if method != "slic":
                print(f"{method} / slic: time {t / ts:.2f}x, peak {peak / ps:.2f}x")


if __name__ == "__main__":
    main()
