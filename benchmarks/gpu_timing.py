"""Time per image of LNS-Net, SSN and RIM on one device (the GPU when there is one),
with scikit-image SLIC on the CPU as the baseline of the same run.

    python benchmarks/gpu_timing.py [--images 5] [--rim-images 3] [--k 100] [--device cuda]

Medians over the first N BSDS500 test images (481x321 or 321x481) after one warm-up call
per method, decoded image in, connected labels out; the GPU is synchronised before each
clock read. RIM trains its network for the paper's 500 iterations on each image, so it
runs on fewer images. Prints one line per method and its ratio to SLIC.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

from _common import add_root  # benchmarks/_common.py, beside this file


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _time(fn, images, device):
    fn(images[0])  # warm-up (CUDA context, cuDNN autotuning, numba compilation)
    times, ks = [], []
    for im in images:
        _sync(device)
        t0 = time.perf_counter()
        labels = fn(im)
        _sync(device)
        times.append(time.perf_counter() - t0)
        ks.append(int(labels.max()) + 1)
    return statistics.median(times), statistics.mean(ks)


def test_images(root, n):
    """The first ``n`` BSDS500 test images under ``root``, decoded (exits if there are none)."""
    from lnsnet.io import read_image

    files = sorted((Path(root) / "images" / "test").glob("*.jpg"))[:n]
    if not files:
        sys.exit(f"no BSDS500 test images under {root}")
    return [read_image(f) for f in files]


def run_header(device: str) -> str:
    """The first line of a timing run's report: versions, device and CPU threads."""
    import lnsnet

    name = torch.cuda.get_device_name(0) if device.startswith("cuda") else "CPU"
    return (f"lnsnet {lnsnet.__version__}, torch {torch.__version__}, device {device} ({name}), "
            f"{torch.get_num_threads()} CPU threads")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_root(ap)
    ap.add_argument("--images", type=int, default=5)
    ap.add_argument("--rim-images", type=int, default=3)
    ap.add_argument("--rim-iterations", type=int, default=500)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--methods", default="lnsnet,lnsnet-paper,ssn,rim")
    ap.add_argument("--ssn-model", default=None, help="SSN model file (default: the shipped one)")
    args = ap.parse_args(argv)

    import lnsnet
    from lnsnet.eval.rim import rim
    from lnsnet.eval.ssn import ssn
    from skimage.segmentation import slic

    images = test_images(args.root, args.images)
    dev = args.device
    print(f"{run_header(dev)}, K={args.k}, {len(images)} BSDS500 test images")
    t_slic, k_slic = _time(lambda im: slic(im, args.k, start_label=0), images, "cpu")
    print(f"{'method':<12} {'device':<6} {'images':>6} {'median ms':>10} {'k delivered':>12} {'/ SLIC':>8}")
    print(f"{'slic':<12} {'cpu':<6} {len(images):>6} {t_slic * 1e3:>10.1f} {k_slic:>12.1f} {1.0:>8.2f}")
    model = lnsnet.load_model()
    methods = {
        # the default (compact clustering): the network on the GPU, the clustering on the CPU
        "lnsnet": (lambda im: lnsnet.segment(im, args.k, model=model, device=dev), images),
        # the paper's clustering: all of it on the GPU
        "lnsnet-paper": (lambda im: lnsnet.segment(im, args.k, model=model, device=dev, clustering="paper"), images),
        "ssn": (lambda im: ssn(im, args.k, model=args.ssn_model, device=dev), images),
        "rim": (lambda im: rim(im, args.k, iterations=args.rim_iterations, device=dev), images[: args.rim_images]),
    }
    for m in args.methods.split(","):
        fn, ims = methods[m]
        try:
            t, k = _time(fn, ims, dev)
        except Exception as exc:  # report and go on with the other methods
            print(f"{m:<12} failed: {type(exc).__name__}: {exc}", flush=True)
            continue
        print(f"{m:<12} {dev.split(':')[0]:<6} {len(ims):>6} {t * 1e3:>10.1f} {k:>12.1f} {t / t_slic:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
