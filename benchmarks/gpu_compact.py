"""The default clustering (the preset ``fast`` since 2026-12-05) and supervoxels on a GPU,
against the CPU, in one run.

    python benchmarks/gpu_compact.py [--images 20] [--device cuda] [-o docs/benchmarks/gpu-NAME.txt]
        [--sigma S] [--compactness C] [--profile FILE] [--stages] [--throughput N] [--device-only]

2-D: the default ``lnsnet.segment`` on BSDS500 test images (481x321) on the device at
K=100 and 1000: median time per image at batch 1 (decoded image in, connected labels out,
the device synchronised), images per second for the whole list in one call (batched by
shape), and the share of pixels in the same superpixel as on the CPU (any numbering); scikit-image SLIC on the CPU
in the same run, and the default on the CPU (all its threads).
3-D: ``segment`` on a 128^3 synthetic volume (spheres in noise) at K=1000 on the device
and on the CPU: time and label agreement.
``--stages``: where the time of one image goes on the device (each stage synchronised:
decoding and encoding, the network and seeds, the clustering, the connectivity and the
copy back). ``--throughput N``: images per second for N images in one call at batch sizes
8, 32 and 64. ``--device-only``: the device rows alone (to time another version of the
code in the same run: ``PYTHONPATH=old/src``).
Prints a table and writes it to ``-o`` (name the file after the device).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from _common import add_root  # benchmarks/_common.py, beside this file
from gpu_timing import _sync, run_header, test_images  # benchmarks/gpu_timing.py, beside this file


def _median_time(fn, items, device):
    fn(items[0])  # warm-up: CUDA context, kernels, numba
    out, times = [], []
    for it in items:
        _sync(device)
        t0 = time.perf_counter()
        out.append(fn(it))
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _agreement(a, b):
    """The share of pixels that the two label maps put in the same superpixel: the ASA of
    each against the other (every superpixel given to the one of the other it overlaps
    most), the smaller of the two (1 for the same partition under any numbering). ASA does
    not depend on the shape, so a volume is scored as a 2-D map of its rows."""
    from lnsnet.eval.metrics import asa

    a, b = (np.asarray(v).reshape(-1, np.shape(v)[-1]) for v in (a, b))
    return min(asa(a, b), asa(b, a))


def _spheres(n=128, k=60, seed=0):
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.mgrid[:n, :n, :n]
    vol = np.zeros((n, n, n), np.float32)
    for _ in range(k):
        c = rng.uniform(0, n, 3)
        r = rng.uniform(5, 15)
        vol[(zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 < r * r] = rng.uniform(0.3, 1.0)
    return vol + rng.normal(0, 0.05, vol.shape).astype(np.float32)


def _profile(images, net, dev, kw, path):
    """torch.profiler tables (host time and device time by operator) of ``segment`` at K=100."""
    import lnsnet
    from torch.profiler import ProfilerActivity, profile

    lnsnet.segment(images[0], 100, model=net, device=dev, **kw)  # warm
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.startswith("cuda") else [])
    with profile(activities=acts) as prof:
        for im in images:
            lnsnet.segment(im, 100, model=net, device=dev, **kw)
        _sync(dev)
    avg = prof.key_averages()
    text = [f"{len(images)} images, K=100, segment(..., device={dev!r})", "", "by host time:",
            avg.table(sort_by="self_cpu_time_total", row_limit=30)]
    if dev.startswith("cuda"):
        text += ["", "by device time:", avg.table(sort_by="self_device_time_total", row_limit=30)]
    Path(path).write_text("\n".join(text) + "\n")


def _stages(images, net, dev, k, kw):
    """Median ms per image of each stage of the device path (synchronised after each)."""
    import torch

    import lnsnet
    from lnsnet.cluster import ClusterOptions, cluster_pixels
    from lnsnet.grid import make_grid
    from lnsnet.hub import input_features
    from lnsnet.inference import _contour_factors, _finish, _finish_device
    from lnsnet.prepare import prepare

    opts = ClusterOptions.of(kw.get("clustering"), compactness=kw.get("compactness"))
    if opts.features == "input":  # as segment(): the embedder not run (its two colour copies not folded here)
        net = input_features(net)
    names = ["check and decode (CPU)", "encode on the device", "network and seeds", "clustering",
             "connectivity and copy back"]
    rows = {n: [] for n in names}
    same = []  # the device's connectivity gave the CPU's labels on the same raw labels
    lnsnet.segment(images[0], k, model=net, device=dev, **kw)  # warm
    for im in images:
        t = [time.perf_counter()]
        p = prepare(im, sigma=kw.get("sigma", 0), blur=opts.blur, n_segments=k, defer=True)
        t.append(time.perf_counter())
        p = p.on_device(dev)
        _sync(dev)
        t.append(time.perf_counter())
        with torch.inference_mode():
            x = p.x[None]
            h, w = p.hw
            grid = make_grid(h, w, k)
            colour = x[:, :3] * torch.from_numpy(p.colour_scale).to(x.device)[None, :, None, None]
            extras = colour * opts.input_weight if opts.input_weight else None
            cfac = _contour_factors(net, colour, opts, None, dev)
            z = net.embed(x)
            pos = grid.centres().to(dev, z.dtype)[None]
            sf = net.seed_features(z, pos)
            if extras is not None:
                sf = torch.cat([sf, net.seed_features(extras, pos)], 2)
            _sync(dev)
            t.append(time.perf_counter())
            raw = cluster_pixels(z[0], colour[0], grid, sf[0], pos[0], opts, extra=None if extras is None else extras[0],
                                 contour=None if cfac is None else cfac[0], device_labels=True)
            _sync(dev)
            t.append(time.perf_counter())
            lab = _finish_device(torch.as_tensor(raw).to(torch.int64), x[0, :3].permute(1, 2, 0), grid.n_seeds, opts, 1)
            t.append(time.perf_counter())
            cpu = _finish(torch.as_tensor(raw).to(torch.int32).cpu().numpy(), x[0, :3].permute(1, 2, 0).cpu().numpy(),
                          p, grid.n_seeds, opts, connect=True, max_size_factor=None, start_label=1)
            same.append(bool(np.array_equal(lab, cpu)))
        for n, a, b in zip(names, t, t[1:]):
            rows[n].append(b - a)
    return {n: 1000 * statistics.median(v) for n, v in rows.items()}, sum(same)


def _throughput(images, net, dev, n, kw):
    """Images per second for ``n`` images (the test images repeated) in one call, by batch size."""
    import lnsnet

    items = [images[i % len(images)] for i in range(n)]
    out = {}
    for k in (100, 1000):
        for bs in (8, 32, 64):
            lnsnet.segment(items[:bs], k, model=net, device=dev, batch_size=bs, **kw)  # warm
            _sync(dev)
            t0 = time.perf_counter()
            lnsnet.segment(items, k, model=net, device=dev, batch_size=bs, **kw)
            _sync(dev)
            out[(k, bs)] = n / (time.perf_counter() - t0)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_root(ap)
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("-o", "--output", default="")
    ap.add_argument("--sigma", type=float, default=0, help="segment()'s sigma (default 0)")
    ap.add_argument("--compactness", type=float, default=None, help="segment()'s compactness (default: the preset's)")
    ap.add_argument("--clustering", default=None, help="segment()'s clustering preset or spec (default: the "
                    "default preset, fast; 'compact': with the feature embedder)")
    ap.add_argument("--profile", default="", help="write torch.profiler tables of the device default at K=100 here")
    ap.add_argument("--stages", action="store_true", help="time each stage of the device path")
    ap.add_argument("--throughput", type=int, default=0, help="images per second for this many images, by batch size")
    ap.add_argument("--device-only", action="store_true", help="the device rows only (another code version)")
    args = ap.parse_args(argv)
    from skimage.segmentation import slic

    import lnsnet
    from lnsnet.cluster import gpu

    dev = args.device
    images = test_images(args.root, args.images)
    kw = dict(sigma=args.sigma, compactness=args.compactness, clustering=args.clustering)
    net_dev = lnsnet.load_model(device=dev)
    net_cpu = lnsnet.load_model()
    lines = [f"{run_header(dev)}; {len(images)} BSDS500 test images; segment(..., sigma={args.sigma:g}, "
             f"compactness={args.compactness}, clustering={args.clustering!r})",
             "| K | where | ms / image (batch 1) | images / s (one call, all images) | pixels in the same superpixel as on the CPU |",
             "|---|---|---:|---:|---:|"]
    if args.device_only:
        lines = lines[:1] + ["| K | ms / image (batch 1) | images / s (one call, all images) |", "|---|---:|---:|"]
        for k in (100, 1000):
            t_dev, _ = _median_time(lambda im: lnsnet.segment(im, k, model=net_dev, device=dev, **kw), images, dev)
            _sync(dev)
            t0 = time.perf_counter()
            lnsnet.segment(images, k, model=net_dev, device=dev, **kw)
            _sync(dev)
            lines.append(f"| {k} | {1000 * t_dev:.1f} | {len(images) / (time.perf_counter() - t0):.0f} |")
        print("\n".join(lines))
        return
    for k in (100, 1000):
        t_slic, _ = _median_time(lambda im: slic(im, n_segments=k, start_label=1), images, "cpu")
        t_cpu, lab_cpu = _median_time(lambda im: lnsnet.segment(im, k, model=net_cpu, **kw), images, "cpu")
        t_dev, lab_dev = _median_time(lambda im: lnsnet.segment(im, k, model=net_dev, device=dev, **kw), images, dev)
        _sync(dev)
        t0 = time.perf_counter()
        lnsnet.segment(images, k, model=net_dev, device=dev, **kw)
        _sync(dev)
        ips = len(images) / (time.perf_counter() - t0)
        agree = np.mean([_agreement(a, b) for a, b in zip(lab_cpu, lab_dev)])
        rows_before = []
        if dev.startswith("cuda"):  # the per-pixel steps in torch ops, as before the kernels
            gpu.USE_KERNELS = False
            try:
                t_ops, lab_ops = _median_time(lambda im: lnsnet.segment(im, k, model=net_dev, device=dev, **kw),
                                              images, dev)
            finally:
                gpu.USE_KERNELS = True
            rows_before = [f"| {k} | lnsnet default, {dev}, torch ops (no kernels) | {1000 * t_ops:.1f} | - | "
                           f"{np.mean([_agreement(a, b) for a, b in zip(lab_cpu, lab_ops)]):.5f} |"]
        lines += [f"| {k} | skimage slic, CPU | {1000 * t_slic:.1f} | - | - |",
                  f"| {k} | lnsnet default, CPU | {1000 * t_cpu:.1f} | - | 1 |",
                  f"| {k} | lnsnet default, {dev} | {1000 * t_dev:.1f} | {ips:.0f} | {agree:.5f} |"] + rows_before
    vol = _spheres()
    t_cpu, (a, _) = _median_time(lambda v: lnsnet.segment(v, 1000, channel_axis=None), [vol, vol], "cpu")
    t_dev, (b, _) = _median_time(lambda v: lnsnet.segment(v, 1000, channel_axis=None, device=dev), [vol, vol], dev)
    lines += ["", "| volume 128^3, K=1000 | CPU | " + f"{1000 * t_cpu:.0f} ms | {dev} | {1000 * t_dev:.0f} ms | "
              f"same supervoxel {_agreement(a, b):.5f} |"]
    if args.stages:
        for k in (100, 1000):
            st, same = _stages(images, net_dev, dev, k, kw)
            lines += ["", f"stages at K={k}, ms per image (medians, synchronised after each): "
                      + ", ".join(f"{n} {v:.2f}" for n, v in st.items()) + f"; sum {sum(st.values()):.2f}; "
                      f"the device's connectivity equal to the CPU's on the same raw labels in {same} of "
                      f"{len(images)} images"]
    if args.throughput:
        tp = _throughput(images, net_dev, dev, args.throughput, kw)
        lines += ["", f"images per second, {args.throughput} images in one call (the test images repeated):"]
        lines += [f"  K={k}, batch_size {bs}: {v:.0f}" for (k, bs), v in tp.items()]
    if gpu._KERNELS_FAILED:
        lines += ["", f"the CUDA kernels failed, torch operations ran instead: {gpu._KERNELS_FAILED[0]}"]
    if args.profile:
        _profile(images[:5], net_dev, dev, kw, args.profile)
    text = "\n".join(lines)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
