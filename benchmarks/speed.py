"""Inference speed and memory of lnsnet.segment against the classic methods (issue 5).

    python benchmarks/speed.py                      # the acceptance table (K=100/1000/5000)
    python benchmarks/speed.py --sweep --memory --huge --out docs/performance

Default: the median end-to-end time (decoded image in, connected labels out) over the
first ``--images`` BSDS500 test images (481x321 / 321x481), after one warm-up call per K,
of ``lnsnet.segment`` (its default, the fast preset; and ``clustering="paper"``) and
``skimage.segmentation.slic`` at the same K, in the same run,
and the ratios ``lnsnet/slic`` (K=100, K=1000) and ``lnsnet K=5000 / lnsnet K=100``.

``--sweep``   time vs K (100..5000) for lnsnet and the baselines (skimage SLIC, OpenCV
              SLIC/LSC/SEEDS when installed) -> ``time_vs_k.csv`` and ``time_vs_k.png``.
``--sizes``   time vs image size (0.15 to 12 megapixels, K in proportion to the area:
              386 pixels a superpixel, K=400 at 481x321) for lnsnet and the baselines but
              LSC, taking turns on each size -> ``time_vs_size.csv`` and ``.png``.
``--memory``  peak resident memory of a fresh process segmenting one image of each size
              (0.15 to 12 megapixels, K=5000) -> ``memory_vs_size.csv`` / ``.png``; with
              ``--memory-slic`` skimage's slic in the same way beside it, with ``--base SRC``
              the lnsnet of another checkout (its ``src/``).
``--huge``    one 10000x10000 image at K=5000 (banded), its time, peak memory and checks.
``--backends`` the default with the network on torch, OpenVINO fp32 and OpenVINO bf16
              (``backend=``; those installed) against SLIC at K=100 and 1000, in turns.
``--also SPEC`` a clustering spec timed beside the default in the acceptance table, in the
              same turns (e.g. ``compact:blur=0:compactness=26``, the default before
              2026-12-04): its time and its ratio to the default.
``--out DIR`` where the CSVs, plots and ``speed.json`` go (nothing written without it).

Large images are BSDS500 test image 100007 upscaled (bicubic), so they have real content.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from _common import add_root  # benchmarks/_common.py, beside this file


def _threads(n: int) -> None:
    import numba
    import torch

    torch.set_num_threads(n)
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    try:
        import cv2

        cv2.setNumThreads(n)
    except ImportError:
        pass


def _methods(also: str = ""):
    """name -> f(image uint8, K) -> labels, for the methods installed here (``also``: a
    clustering spec, as ``lnsnet-also``)."""
    import lnsnet
    from skimage.segmentation import slic

    model = lnsnet.load_model()
    out = {
        # the default (compact clustering); labels from 0 as the others', so max + 1 counts them
        "lnsnet": lambda im, k: lnsnet.segment(im, k, model=model, start_label=0),
        "lnsnet-paper": lambda im, k: lnsnet.segment(im, k, model=model, clustering="paper", start_label=0),
        "skimage-slic": lambda im, k: slic(im, k, start_label=0),
    }
    if also:
        out["lnsnet-also"] = lambda im, k: lnsnet.segment(im, k, model=model, clustering=also, start_label=0)
    try:
        from lnsnet.eval.baselines import get_method

        for name, key in (("opencv-slic", "cv_slic"), ("lsc", "lsc"), ("seeds", "seeds")):
            try:
                f = get_method(key)
                out[name] = (lambda f: lambda im, k: f(im, k))(f)
            except Exception:  # noqa: BLE001 - baseline not available here
                pass
    except ImportError:
        pass
    try:  # pip install cython && pip install --no-build-isolation fast-slic (optional)
        try:
            from fast_slic.avx2 import SlicAvx2 as FastSlic
        except ImportError:
            from fast_slic import Slic as FastSlic

        out["fast-slic"] = lambda im, k: FastSlic(num_components=k, compactness=10).iterate(
            np.ascontiguousarray(im[..., :3] if im.ndim == 3 else np.repeat(im[..., None], 3, 2)))
    except ImportError:
        pass
    return out


def _time(f, images, k):
    return _time_pair([f], images, k)[0]


def _time_pair(fs, images, k):
    """Median ms and mean delivered k of each method; the methods take turns image by
    image, so a change in machine speed during the run hits all of them alike."""
    for f in fs:
        f(images[0], k)  # warm-up (compiles kernels, loads the model)
    ts = [[] for _ in fs]
    ks = [[] for _ in fs]
    for im in images:
        for i, f in enumerate(fs):
            t0 = time.perf_counter()
            lab = f(im, k)
            ts[i].append(time.perf_counter() - t0)
            ks[i].append(int(lab.max()) + 1)
    return [(statistics.median(t) * 1e3, float(np.mean(kk))) for t, kk in zip(ts, ks)]


def _big_image(root: str, h: int, w: int) -> np.ndarray:
    from PIL import Image

    src = Path(root) / "images" / "test" / "100007.jpg"
    return np.asarray(Image.open(src).convert("RGB").resize((w, h), Image.BICUBIC))


_CHILD = r"""
import json, re, resource, sys, time
import numpy as np
sys.path.insert(0, {bench!r})
from speed import _big_image, _threads
def peak_mib():  # VmHWM: this process's own peak (ru_maxrss keeps the parent's across exec)
    try:
        with open("/proc/self/status") as fh:
            return int(re.search(r"VmHWM:\s+(\d+)", fh.read()).group(1)) / 1024
    except (OSError, AttributeError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
_threads({threads})
if {method!r} == "slic":
    from skimage.segmentation import slic as run
else:
    if {method!r} != "lnsnet":  # lnsnet from another checkout's src/ (--base)
        sys.path.insert(0, {method!r})
    import lnsnet
    run = lnsnet.segment
h, w, k = {h}, {w}, {k}
im = _big_image({root!r}, h, w)
base = peak_mib()
t0 = time.perf_counter()
lab = run(im, k, start_label=0)
dt = time.perf_counter() - t0
from lnsnet.connectivity import components
_, ncomp = components(lab)
print(json.dumps(dict(h=h, w=w, k=k, seconds=dt, k_delivered=int(lab.max()) + 1,
                      connected=bool(ncomp == lab.max() + 1 and lab.min() == 0),
                      peak_rss_mib=peak_mib(), rss_before_mib=base)))
"""


def _child(root, h, w, k, threads, method="lnsnet"):
    """One fresh process segmenting one ``h x w`` image: ``method`` lnsnet, slic
    (scikit-image's) or a folder holding another checkout's lnsnet (``--base``)."""
    code = _CHILD.format(bench=str(Path(__file__).resolve().parent), threads=threads, root=root, h=h, w=w, k=k,
                         method=method)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_root(ap)
    ap.add_argument("--images", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--sizes", action="store_true")
    ap.add_argument("--memory", action="store_true")
    ap.add_argument("--memory-slic", action="store_true", help="with --memory: skimage's slic too, in its own process")
    ap.add_argument("--base", metavar="SRC", help="with --memory: also lnsnet from SRC (another checkout's src/, "
                    "e.g. a git worktree of an earlier commit)")
    ap.add_argument("--huge", action="store_true")
    ap.add_argument("--backends", action="store_true")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--also", default="", help="a clustering spec timed beside the default (acceptance table)")
    ap.add_argument("--skip-acceptance", action="store_true", help="only the parts asked for")
    ap.add_argument("--replot", action="store_true", help="redraw the plots from --out/speed.json, run nothing")
    args = ap.parse_args(argv)
    if args.replot:
        _write(args.out, {})
        return
    _threads(args.threads)

    import torch

    import lnsnet
    from lnsnet.io import read_image

    files = sorted((Path(args.root) / "images" / "test").glob("*.jpg"))[: args.images]
    if not files:
        sys.exit(f"no BSDS500 test images under {args.root} (use --root or LNSNET_BSDS500)")
    images = [read_image(f) for f in files]
    meth = _methods(args.also)
    info = dict(lnsnet=lnsnet.__version__, torch=torch.__version__, threads=args.threads, images=len(images),
                cpu=platform.processor() or platform.machine(), cores=os.cpu_count())
    print(f"lnsnet {info['lnsnet']}, torch {info['torch']}, {args.threads} threads, {len(images)} BSDS500 test "
          f"images ({images[0].shape[1]}x{images[0].shape[0]}), medians")
    result = dict(info=info)

    if not args.skip_acceptance:
        _acceptance(meth, images, result)
    _rest(args, meth, images, result)


def _acceptance(meth, images, result):
    rows = {}
    also = "lnsnet-also" in meth
    print(f"{'K':>6} {'lnsnet ms':>10} {'k':>7} {'slic ms':>9} {'k':>7} {'lnsnet/slic':>12} "
          f"{'paper ms':>9} {'/slic':>6}" + (f" {'also ms':>8} {'/lnsnet':>8}" if also else ""))
    for k in (100, 1000, 5000):
        fs = [meth["lnsnet"], meth["skimage-slic"], meth["lnsnet-paper"]] + ([meth["lnsnet-also"]] if also else [])
        res = _time_pair(fs, images, k)
        (tl, kl), (ts, kk), (tc, kc) = res[:3]
        rows[k] = dict(lnsnet_ms=tl, lnsnet_k=kl, slic_ms=ts, slic_k=kk, ratio=tl / ts, paper_ms=tc, paper_k=kc,
                       paper_ratio=tc / ts)
        extra = ""
        if also:
            rows[k].update(also_ms=res[3][0], also_k=res[3][1])
            extra = f" {res[3][0]:>8.1f} {res[3][0] / tl:>8.2f}"
        print(f"{k:>6} {tl:>10.1f} {kl:>7.1f} {ts:>9.1f} {kk:>7.1f} {tl / ts:>12.2f} {tc:>9.1f} {tc / ts:>6.2f}"
              + extra)
    flat = rows[5000]["lnsnet_ms"] / rows[100]["lnsnet_ms"]
    print(f"ratio lnsnet/slic: K=100 {rows[100]['ratio']:.2f}, K=1000 {rows[1000]['ratio']:.2f} (target <= 1.0)")
    print(f"ratio lnsnet K=5000 / K=100: {flat:.2f} (target <= 1.3)")
    result["acceptance"] = dict(rows={str(k): v for k, v in rows.items()}, flat_ratio=flat)


def _backends(meth, images, result):
    import lnsnet
    from lnsnet.backends import BACKENDS, check_backend

    model = lnsnet.load_model()
    names = []
    for b in BACKENDS:
        try:
            names.append(check_backend(b))
        except ValueError as e:
            print(f"({b}: {e})")
    fs = [(lambda b: lambda im, k: lnsnet.segment(im, k, model=model, backend=b))(b) for b in names]
    rows = {}
    print(f"{'K':>6} {'slic ms':>9} " + " ".join(f"{b + ' ms':>18} {'/slic':>6}" for b in names))
    for k in (100, 1000):
        res = _time_pair(fs + [meth["skimage-slic"]], images, k)
        ts = res[-1][0]
        rows[k] = dict(slic_ms=ts, **{b: dict(ms=t, k=kk, ratio=t / ts) for b, (t, kk) in zip(names, res)})
        print(f"{k:>6} {ts:>9.1f} " + " ".join(f"{t:>18.1f} {t / ts:>6.2f}" for t, _ in res[:-1]))
    result["backends"] = {str(k): v for k, v in rows.items()}


def _rest(args, meth, images, result):
    if args.backends:
        _backends(meth, images, result)
    if args.sweep:
        ks = (100, 200, 400, 1000, 2000, 5000)
        sweep = []
        print("\ntime vs K (ms, median):  method " + " ".join(f"{k:>7}" for k in ks))
        for name, f in meth.items():
            ms = [_time(f, images, k) for k in ks]
            sweep += [dict(method=name, k=k, ms=m, k_delivered=kd) for k, (m, kd) in zip(ks, ms)]
            print(f"{name:>24} " + " ".join(f"{m:>7.1f}" for m, _ in ms))
        result["sweep"] = sweep

    if args.sizes:
        sizes = [(321, 481), (750, 1000), (1500, 2000), (2250, 3000), (3000, 4000)]
        names = [n for n in meth if n != "lsc"]  # LSC: about 3 s per 481x321 image at the larger K
        rows = []
        print("\ntime vs image size (ms, median of 3, methods in turns):  " + " ".join(f"{n:>13}" for n in names))
        for h, w in sizes:
            k = int(round(400 * h * w / (321 * 481)))
            im = _big_image(args.root, h, w)
            res = _time_pair([meth[n] for n in names], [im] * 3, k)
            rows += [dict(method=n, h=h, w=w, k=k, ms=m, k_delivered=kd) for n, (m, kd) in zip(names, res)]
            print(f"  {w}x{h} K={k:>5}: " + " ".join(f"{m:>13.1f}" for m, _ in res))
        result["sizes"] = rows

    if args.memory:
        sizes = [(321, 481), (750, 1000), (1500, 2000), (2250, 3000), (3000, 4000)]
        mem = []
        print("\npeak memory of a fresh process (K=5000):")
        for h, w in sizes:
            r = _child(args.root, h, w, 5000, args.threads)
            line = (f"  {w}x{h}: {r['peak_rss_mib']:.0f} MiB peak RSS ({r['rss_before_mib']:.0f} MiB before), "
                    f"{r['seconds']:.1f} s, k={r['k_delivered']}, connected={r['connected']}")
            for name, method in (("base", args.base), ("slic", "slic" if args.memory_slic else None)):
                if method:  # beside it: its peak, what segment added to it, its time
                    o = _child(args.root, h, w, 5000, args.threads, method)
                    r.update({f"{name}_peak_rss_mib": o["peak_rss_mib"], f"{name}_rss_before_mib": o["rss_before_mib"],
                              f"{name}_seconds": o["seconds"]})
                    line += (f"; {name} {o['peak_rss_mib']:.0f} MiB ({o['rss_before_mib']:.0f} before), "
                             f"{o['seconds']:.1f} s")
            line += "; added by the call: " + ", ".join(
                f"{n} {r[p + 'peak_rss_mib'] - r[p + 'rss_before_mib']:.0f} MiB"
                for n, p in (("lnsnet", ""), ("base", "base_"), ("slic", "slic_")) if p + "peak_rss_mib" in r)
            mem.append(r)
            print(line, flush=True)
        result["memory"] = mem

    if args.huge:
        r = _child(args.root, 10000, 10000, 5000, args.threads)
        print(f"\n10000x10000, K=5000: {r['seconds']:.0f} s, peak RSS {r['peak_rss_mib']:.0f} MiB, "
              f"k={r['k_delivered']}, every label connected: {r['connected']}")
        result["huge"] = r

    if args.out:
        _write(args.out, result)


def _write(out: Path, result: dict) -> None:
    import csv

    out.mkdir(parents=True, exist_ok=True)
    if (out / "speed.json").is_file():  # parts run separately add to what is there
        old = json.loads((out / "speed.json").read_text())
        if not {"acceptance", "sweep", "backends"} & result.keys() and "info" in old:  # no part timed over the
            result = {**result, "info": old["info"]}  # BSDS500 images ran: their info (how many) stays
        result = {**old, **result}
    (out / "speed.json").write_text(json.dumps(result, indent=1))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if "sweep" in result:
        _plot_methods(plt, result["sweep"], out / "time_vs_k", ["method", "k", "ms", "k_delivered"],
                      lambda r: r["k"], lambda r: r["ms"], "superpixels asked (K)",
                      "median time per 481x321 image (ms)", result["info"]["threads"])
    if "sizes" in result:
        _plot_methods(plt, result["sizes"], out / "time_vs_size", ["method", "h", "w", "k", "ms", "k_delivered"],
                      lambda r: r["h"] * r["w"] / 1e6, lambda r: r["ms"] / 1e3,
                      "image size (megapixels); K = pixels / 386", "median time per image (s)",
                      result["info"]["threads"])
    if "memory" in result:
        rows = result["memory"] + ([result["huge"]] if "huge" in result else [])
        rows = [{key: round(val, 1) if key.endswith("_mib") else round(val, 2) if key.endswith("seconds") else val
                 for key, val in r.items()} for r in rows]
        with open(out / "memory_vs_size.csv", "w", newline="") as fh:
            wr = csv.DictWriter(fh, fieldnames=list(rows[0]))
            wr.writeheader()
            wr.writerows(rows)
        fig, ax = plt.subplots(figsize=(5.5, 3.8))
        mp = [r["h"] * r["w"] / 1e6 for r in rows]
        ax.plot(mp, [r["peak_rss_mib"] / 1024 for r in rows], "o-", label="peak RSS")
        for key, style, label in (("slic", "s--", "skimage slic, peak RSS"), ("base", "^:", "the code before (--base)")):
            have = [(m, r[key + "_peak_rss_mib"] / 1024) for m, r in zip(mp, rows) if r.get(key + "_peak_rss_mib")]
            if have:
                ax.plot(*zip(*have), style, label=label)
        ax.plot(mp, [r["rss_before_mib"] / 1024 for r in rows], "--", color="gray", label="before segment (imports, image)")
        ax.axhline(3, color="red", lw=0.8, label="3 GiB")
        ax.set_xscale("log")
        ax.set_yscale("log")
        from matplotlib.ticker import ScalarFormatter

        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(ScalarFormatter())
            axis.set_minor_formatter(ScalarFormatter() if axis is ax.yaxis else matplotlib.ticker.NullFormatter())
        ax.set_xlabel("image size (megapixels), K=5000")
        ax.set_ylabel("GiB")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "memory_vs_size.png", dpi=150)
        plt.close(fig)


def _plot_methods(plt, rows, stem: Path, fields, x, y, xlabel: str, ylabel: str, threads) -> None:
    """``stem``.csv of ``rows`` and ``stem``.png: one line per method, log-log."""
    import csv

    from matplotlib.ticker import ScalarFormatter

    with open(stem.with_suffix(".csv"), "w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=fields)
        wr.writeheader()
        wr.writerows(rows)
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for name in dict.fromkeys(r["method"] for r in rows):
        rs = [r for r in rows if r["method"] == name]
        ax.plot([x(r) for r in rs], [y(r) for r in rs], "o-", label=name, lw=2 if name == "lnsnet" else 1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(f"CPU, {threads} threads")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(stem.with_suffix(".png"), dpi=150)
    plt.close(fig)


if __name__ == "__main__":
    main()
