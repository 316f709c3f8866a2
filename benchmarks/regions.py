"""Time lnsnet.measure.regions against skimage.measure.regionprops_table on the same input.

    python benchmarks/regions.py [--height 3000] [--width 3334] [--labels 100000]
                                 [--channels 3] [--repeats 7] [--sk-repeats 3]

The input is a 10-megapixel uint8 image (random values) and a superpixel-like label map:
a grid of about ``--labels`` cells, 1..K, with wavy borders (every cell about the same
size, ragged like a superpixel's). Both functions compute label, area, centroid, bbox and
the mean of every channel; the columns are checked to agree, then the medians of the
wall times (after one warm-up call each) and their ratio are printed.
"""

import argparse
import statistics
import time

import numpy as np


def wavy_grid(h, w, k, seed=0):
    """About ``k`` cells numbered 1.. in raster order, borders displaced by smooth noise."""
    rng = np.random.default_rng(seed)
    step = np.sqrt(h * w / k)
    ny, nx = int(np.ceil(h / step)), int(np.ceil(w / step))
    y = np.arange(h)[:, None]
    x = np.arange(w)[None, :]
    a = rng.uniform(0, 2 * np.pi, 4)
    dy = 0.3 * step * np.sin(x / step * 1.7 + a[0]) * np.cos(y / step * 0.9 + a[1])
    dx = 0.3 * step * np.sin(y / step * 1.3 + a[2]) * np.cos(x / step * 1.1 + a[3])
    cy = np.clip(((y + dy) / step).astype(np.int64), 0, ny - 1)
    cx = np.clip(((x + dx) / step).astype(np.int64), 0, nx - 1)
    return (cy * nx + cx + 1).astype(np.int32)


def median_time(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--height", type=int, default=3000)
    ap.add_argument("--width", type=int, default=3334)
    ap.add_argument("--labels", type=int, default=100_000)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--sk-repeats", type=int, default=3)
    args = ap.parse_args(argv)

    from skimage.measure import regionprops_table

    from lnsnet.measure import regions

    labels = wavy_grid(args.height, args.width, args.labels)
    rng = np.random.default_rng(1)
    shape = labels.shape + ((args.channels,) if args.channels > 1 else ())
    image = rng.integers(0, 256, size=shape, dtype=np.uint8)
    k = len(np.unique(labels))
    print(f"image {image.shape} {image.dtype}, {labels.size / 1e6:.1f} Mpx, {k} labels")

    ours = regions(image, labels)
    sk = regionprops_table(labels, image, properties=("label", "area", "centroid", "bbox", "intensity_mean"))
    assert list(ours) == list(sk), (list(ours), list(sk))
    for name in sk:
        np.testing.assert_allclose(ours[name], sk[name], rtol=1e-9, err_msg=name)
    print("columns agree:", ", ".join(sk))

    t_ours = median_time(lambda: regions(image, labels), args.repeats)
    print(f"lnsnet.measure.regions        median {t_ours:8.3f} s over {args.repeats}")
    t_sk = median_time(
        lambda: regionprops_table(labels, image, properties=("label", "area", "centroid", "bbox", "intensity_mean")),
        args.sk_repeats,
    )
    print(f"skimage regionprops_table     median {t_sk:8.3f} s over {args.sk_repeats}")
    print(f"ratio skimage / lnsnet: {t_sk / t_ours:.1f}x")


if __name__ == "__main__":
    main()
