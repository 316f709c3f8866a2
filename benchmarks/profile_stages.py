"""Median time of each stage of `lnsnet.segment` on BSDS500 test images (docs/performance.md).

    python benchmarks/profile_stages.py [--images 20] [--k 100] [--threads 2]
    LNSNET_NO_MALLOC_TUNING=1 python benchmarks/profile_stages.py   # without the allocator tuning

Stages: float conversion, LAB+position encoding (of the image as it is, and of its 0.8 px
blur, the presets' blur: its values are off the 8-bit grid), the blur itself (run from
another commit's ``src`` without ``lnsnet.features.gaussian_hw``: scipy's
``gaussian_filter``, which it replaced), feature embedder (FEM), seed features,
clustering (the paper's one-shot, the default compact one, `segment.cluster_local`, and
the compact one with its smoothing's contrast on CIELAB only, ``feature_contrast=0``),
connectivity; then the whole `segment` call (default options, and ``clustering="fast"``)
and scikit-image SLIC on the same image, alternating. The "before" column of docs/performance.md was measured with
the same stages at commit 8c0fa4e (the torch/numpy path).
"""

import argparse
import os
import statistics
import time
from pathlib import Path

from _common import add_root  # benchmarks/_common.py, beside this file


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_root(ap)
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    import numba
    import torch

    torch.set_num_threads(args.threads)
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    from skimage.segmentation import slic

    import lnsnet
    from lnsnet.connectivity import enforce_connectivity
    from lnsnet.features import encode

    try:
        from lnsnet.features import gaussian_hw
    except ImportError:  # the code before 2026-12-05: scipy's filter
        from scipy import ndimage

        def gaussian_hw(img, py, px):
            return ndimage.gaussian_filter(img, (py, px, 0), mode="reflect")
    from lnsnet.grid import make_grid
    from lnsnet.io import read_image, to_float_rgb
    from lnsnet import ClusterOptions
    from lnsnet.cluster import cluster_local

    files = sorted((Path(args.root) / "images" / "test").glob("*.jpg"))[: args.images]
    images = [read_image(f) for f in files]
    net = lnsnet.load_model()
    lnsnet.segment(images[0], args.k, model=net)  # compile kernels, tune the allocator
    times = {}
    # first the whole call alone: the stage-by-stage runs below leave freed buffers in the
    # heap that the next call reuses, which hides the cost the allocator tuning removes
    for im in images:
        t0 = time.perf_counter()
        lnsnet.segment(im, args.k, model=net)
        times.setdefault("segment (alone)", []).append(time.perf_counter() - t0)

    def timed(name, f):
        t0 = time.perf_counter()
        out = f()
        times.setdefault(name, []).append(time.perf_counter() - t0)
        return out

    for im in images:
        rgb = timed("float", lambda: to_float_rgb(im))
        x = timed("encode", lambda: encode(rgb))
        blurred = timed("blur 0.8 px", lambda: gaussian_hw(rgb, 0.8, 0.8))
        timed("encode (blurred)", lambda: encode(blurred))
        grid = make_grid(*rgb.shape[:2], args.k)
        with torch.inference_mode():
            z = timed("fem", lambda: net.embed(x))
            pos = grid.centres(None, z.dtype)[None]
            feats = timed("seed features", lambda: net.seed_features(z, pos))
            zb, img = z[0].numpy(), x[0, :3].numpy()
            args_ = (lambda r0, r1: zb[:, r0:r1], [(0, zb.shape[1])], grid, img, feats[0].numpy(), pos[0].numpy())
            timed("clustering (paper)", lambda: cluster_local(*args_, ClusterOptions.resolve("paper")))
            raw = timed("clustering (compact)", lambda: cluster_local(*args_, ClusterOptions()))
            timed("compact, CIELAB contrast", lambda: cluster_local(*args_, ClusterOptions(feature_contrast=0.0)))
        colour = x[0, :3].permute(1, 2, 0).numpy()
        cap = int(round(grid.n_seeds * 1.1))
        timed("connectivity", lambda: enforce_connectivity(raw, colour, n_segments=grid.n_seeds, max_segments=cap))
        timed("segment (after stages)", lambda: lnsnet.segment(im, args.k, model=net))
        timed("segment fast", lambda: lnsnet.segment(im, args.k, model=net, clustering="fast"))
        timed("skimage slic", lambda: slic(im, args.k, start_label=0))
    print(f"K={args.k}, {len(images)} images, {args.threads} threads, medians (ms); "
          f"allocator tuning {'off' if os.environ.get('LNSNET_NO_MALLOC_TUNING') else 'on'}")
    for name, ts in times.items():
        print(f"  {name:>22}: {statistics.median(ts) * 1e3:7.1f}")


if __name__ == "__main__":
    main()
