"""Throughput of batches, one large image, and training, on a device against the CPU of
the same machine (the baseline of the same run).

    python benchmarks/gpu_throughput.py [--images 20] [--device cuda] [--cpu-threads 16]

Prints, for the shipped model with the default (compact) clustering and with the paper's
clustering:
  1. a list of N BSDS500 test images in one ``segment`` call (batches of 8): images per
     second on the device and on the CPU;
  2. one 4000x3000 image (the first test image, tiled) at K=5000: time and peak memory
     (GPU: ``torch.cuda.max_memory_allocated``; host: peak RSS of the process so far);
  3. ``train_stream`` on the first few BSDS500 train images (the paper's 50 iterations per
     image): seconds per image on the device and on the CPU.
Each timing is taken after one warm-up call (CUDA context, cuDNN, numba compilation); the
GPU is synchronised before each clock read.
"""

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from _common import add_root  # benchmarks/_common.py, beside this file
from gpu_timing import _sync, run_header, test_images  # benchmarks/gpu_timing.py, beside this file


def _clock(fn, device, repeats=3):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        out = fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_root(ap)
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--train-images", type=int, default=3, help="timed training images (after one warm-up image)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--cpu-threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--large", default="4000x3000", help="WxH of the large image, or 0 to skip")
    ap.add_argument("--large-k", type=int, default=5000)
    ap.add_argument("--parts", default="batch,large,train")
    args = ap.parse_args(argv)
    if args.cpu_threads:
        torch.set_num_threads(args.cpu_threads)

    import lnsnet
    from lnsnet.train import TrainConfig, train_stream

    images = test_images(args.root, args.images)
    dev = args.device
    print(f"{run_header(dev)}, {os.cpu_count()} CPUs", flush=True)
    devices = [dev] if dev == "cpu" else [dev, "cpu"]
    parts = args.parts.split(",")
    models = {d: lnsnet.load_model(device=d) for d in devices}

    if "batch" in parts:
        print(f"\n1. {len(images)} test images in one segment() call (batch_size 8), K=100 and 1000")
        print(f"{'clustering':<10} {'K':>5} {'device':<6} {'images/s':>9} {'ms/image':>9} {'/ CPU':>7}")
        for clustering in ("compact", "paper"):
            for k in (100, 1000):
                base = None
                for d in reversed(devices):  # the CPU first: the baseline
                    t, labels = _clock(lambda: lnsnet.segment(images, k, model=models[d], device=d,
                                                              clustering=clustering), d, repeats=2)
                    base = base or t
                    print(f"{clustering:<10} {k:>5} {d.split(':')[0]:<6} {len(images) / t:>9.1f} "
                          f"{t / len(images) * 1e3:>9.1f} {t / base:>7.2f}", flush=True)

    if "large" in parts and args.large != "0":
        w, h = (int(v) for v in args.large.split("x"))
        reps = (-(-h // images[0].shape[0]), -(-w // images[0].shape[1]), 1)
        big = np.ascontiguousarray(np.tile(images[0], reps)[:h, :w])
        print(f"\n2. one {w}x{h} image, K={args.large_k}")
        print(f"{'clustering':<10} {'device':<6} {'seconds':>8} {'k':>6} {'GPU peak MiB':>13} {'host peak RSS MiB':>18}")
        for clustering in ("compact", "paper"):
            for d in reversed(devices):
                if d.startswith("cuda"):
                    torch.cuda.reset_peak_memory_stats()
                t, labels = _clock(lambda: lnsnet.segment(big, args.large_k, model=models[d], device=d,
                                                          clustering=clustering), d, repeats=1)
                gpu = torch.cuda.max_memory_allocated() / 2**20 if d.startswith("cuda") else float("nan")
                print(f"{clustering:<10} {d.split(':')[0]:<6} {t:>8.2f} {int(labels.max()) + 1:>6} "
                      f"{gpu:>13.0f} {_rss_mib():>18.0f}", flush=True)

    if "train" in parts:
        tfiles = sorted((Path(args.root) / "images" / "train").glob("*.jpg"))[: args.train_images + 1]
        if args.train_images < 1 or len(tfiles) < 2:
            sys.exit("part 'train' needs --train-images >= 1 and at least 2 BSDS500 train images")
        print(f"\n3. train_stream, {args.train_images} BSDS500 train images after one warm-up image "
              f"(50 iterations per image)")
        print(f"{'device':<6} {'s/image':>8} {'/ CPU':>7}")
        base = None
        for d in reversed(devices):
            with tempfile.TemporaryDirectory() as tmp:
                train_stream([tfiles[0]], Path(tmp) / "w.pt", config=TrainConfig(seed=0), device=d, progress=False)
                _sync(d)
                t0 = time.perf_counter()
                train_stream(tfiles[1:], Path(tmp) / "m.pt", config=TrainConfig(seed=0), device=d,
                             progress=False, checkpoint_every=1000)
                _sync(d)
                t = (time.perf_counter() - t0) / (len(tfiles) - 1)
            base = base or t
            print(f"{d.split(':')[0]:<6} {t:>8.2f} {t / base:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
