"""Supervoxels against scikit-image's 3-D slic: quality, time and peak memory.

Settings are chosen on synthetic volumes made here (3-D Voronoi regions with texture and
noise, anisotropic voxels: the "val" set); the labelled PlantSeg volumes of
``../shared/data/volumes-plantseg`` (or ``--root``) are the test, scored once with the
chosen settings. For each method and K: delivered k, 3-D ASA, BR and BP (tolerance r = 1
voxel: the 3x3x3 cube), UE, EV, CO (3-D compactness), time (median of ``--repeats``) and, at K = 1000, the
peak resident memory one call adds (a fresh interpreter, Linux's VmHWM after resetting
it).

    python scripts/volumes.py -o docs/benchmarks/volumes            # ~7 minutes on 2 cores
    python scripts/volumes.py -o docs/benchmarks/volumes --confirm  # ~3 minutes

``--confirm`` scores lnsnet's default and slic's once on synthetic nucleus volumes, a family
the settings were not chosen on.

    python scripts/volumes.py -o docs/benchmarks/volumes --frontier # ~10 minutes

``--frontier`` chooses nothing: on the test volumes and the confirmation family it runs
lnsnet and slic along their compactness (``FRONTIER_LNSNET``, ``FRONTIER_SLIC``) and reads
lnsnet's ASA, BR and k at the CO slic's default delivers (linear in CO between lnsnet's
measured points; no read where slic's CO lies outside them): which of the two has the
better trade-off between boundaries and shape, apart from where each default sits on it.
Writes frontier_rows.csv, frontier.md and frontier.png.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

KS = (100, 200, 500, 1000, 2000)
SLIC_GRID = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)  # slic's compactness; its default is 10
# lnsnet's compactness (60 and above added on 2026-12-03, for the shape-bounded choices)
LNSNET_GRID = (1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 40.0, 60.0, 80.0, 120.0, 160.0, 240.0, 320.0, 480.0, 640.0, 960.0,
               1280.0, 1920.0, 2560.0, 3840.0, 5120.0)

# --frontier: the compactness values each method runs at (nothing is chosen from them)
FRONTIER_LNSNET = (2.5, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0)
FRONTIER_SLIC = (1.0, 3.0, 10.0, 30.0, 100.0)

# lnsnet's default: the best val ASA among settings whose supervoxels are on average at least
# half as compact as a cube (CO 0.52); a bound at slic's default's val CO (0.385) gives a
# plain grid, as slic's default is on these volumes
CO_BOUND = 0.26
BOUNDED = f"lnsnet, val CO >= {CO_BOUND}"
MATCHED = "lnsnet, val CO >= slic's default"


def synthetic(seed: int, shape=(40, 96, 96), spacing=(2.0, 1.0, 1.0), regions=60):
    """A 3-D Voronoi volume (in physical units) with a per-region intensity, a smooth
    texture and white noise; returns (volume float32 in [0, 1], labels, spacing)."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    extent = np.array(shape) * np.array(spacing)
    pts = rng.random((regions, 3)) * extent
    grid = np.stack(np.meshgrid(*[(np.arange(n) + 0.5) * s for n, s in zip(shape, spacing)], indexing="ij"), -1)
    from scipy.spatial import cKDTree

    labels = cKDTree(pts).query(grid.reshape(-1, 3))[1].reshape(shape)
    levels = rng.uniform(0.15, 0.85, regions)
    texture = ndimage.gaussian_filter(rng.normal(0, 1, shape), 2.0)
    vol = levels[labels] + 0.06 * texture / texture.std() + rng.normal(0, 0.04, shape)
    return np.clip(vol, 0, 1).astype(np.float32), labels.astype(np.int32), spacing


def nuclei(seed: int, shape=(48, 128, 128), spacing=(2.0, 1.0, 1.0), count=90):
    """A confirmation family unlike the val volumes: ellipsoid nuclei (label 1..count, the
    background 0 is a region) of uneven brightness with an inner texture, on a dark
    background, blurred by a point spread function, with noise that grows with the signal
    (as a photon count's) and 8-bit quantisation; returns (volume uint8, labels, spacing)."""
    from scipy import ndimage

    rng = np.random.default_rng(1000 + seed)
    extent = np.array(shape) * np.array(spacing)
    grid = np.stack(np.meshgrid(*[(np.arange(n) + 0.5) * s for n, s in zip(shape, spacing)], indexing="ij"), -1)
    labels = np.zeros(shape, np.int32)
    for i in range(1, count + 1):
        centre, radii = rng.random(3) * extent, rng.uniform(6, 14, 3)
        rot = np.linalg.qr(rng.normal(size=(3, 3)))[0]
        inside = (((grid - centre) @ rot / radii) ** 2).sum(-1) <= 1
        labels[inside & (labels == 0)] = i
    levels = np.concatenate([[0.08], rng.uniform(0.3, 0.9, count)])
    texture = ndimage.gaussian_filter(rng.normal(0, 1, shape), 1.5)
    clean = levels[labels] * (1 + 0.15 * texture / texture.std() * (labels > 0))
    clean = ndimage.gaussian_filter(clean, (0.6, 1.2, 1.2))  # the PSF, longer along z in voxels
    noisy = rng.poisson(np.clip(clean, 0, None) * 60) / 60 + rng.normal(0, 0.02, shape)
    return (np.clip(noisy, 0, 1) * 255).round().astype(np.uint8), labels, spacing


def plantseg(root: Path):
    import tifffile

    rows = list(csv.DictReader(open(root / "manifest.tsv"), delimiter="\t"))
    for r in rows:
        yield (r["name"], tifffile.imread(root / r["volume"]), tifffile.imread(root / r["labels"]),
               (float(r["spacing_z"]), float(r["spacing_y"]), float(r["spacing_x"])),
               0 if float(r["label0_fraction"]) < 0.001 else None)  # 0 = unlabelled in a dense GT


def _rss_reset() -> int:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return _status("VmRSS")
    except OSError:
        return -1


def _status(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return -1


def run(method: str, c: float, vol, k: int, spacing):
    import lnsnet
    from skimage.segmentation import slic

    if method == "lnsnet":
        return lnsnet.segment(vol, k, channel_axis=None, spacing=spacing, compactness=c)
    return slic(vol, k, compactness=c, spacing=spacing, channel_axis=None, start_label=1)


def _peak_child(method, c, vol, k, spacing, queue):
    """In a fresh interpreter: warm up on a tiny volume, then the peak resident memory one
    call adds (VmHWM after resetting it, minus the resident memory before)."""
    run(method, c, np.random.default_rng(0).random((6, 6, 6)).astype(vol.dtype), 8, spacing)
    base = _rss_reset()
    run(method, c, vol, k, spacing)
    queue.put((_status("VmHWM") - base) / 2**20 if base >= 0 else float("nan"))


def peak_memory(method, c, vol, k, spacing) -> float:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=_peak_child, args=(method, c, vol, k, spacing, q))
    proc.start()
    mb = q.get(timeout=600)
    proc.join()
    return mb


def measure(method, c, vol, gt, k, spacing, ignore, repeats, memory=False):
    from lnsnet.eval.volumes import score_volume

    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        lab = run(method, c, vol, k, spacing)
        times.append(time.perf_counter() - t0)
    s = score_volume(lab, gt, volume=vol, ignore=ignore, spacing=spacing)
    mb = peak_memory(method, c, vol, k, spacing) if memory else float("nan")
    return {**s, "seconds": statistics.median(times), "peak_mb": mb}, lab


def mean_co(rows, method, c) -> float:
    return float(np.mean([r["co"] for r in rows if r["method"] == method and r["compactness"] == c]))


def choose(rows, method, min_co: float = 0.0):
    """The compactness with the best mean ASA over the val volumes and Ks among those whose
    delivered k stays within 0.7-1.3 K on every one and whose mean CO is at least
    ``min_co`` (a shape bound)."""
    best = None
    for c in sorted({r["compactness"] for r in rows if r["method"] == method}):
        mine = [r for r in rows if r["method"] == method and r["compactness"] == c]
        if any(not 0.7 * r["K"] <= r["k"] <= 1.3 * r["K"] for r in mine) or mean_co(rows, method, c) < min_co:
            continue
        score = float(np.mean([r["asa"] for r in mine]))
        if best is None or score > best[1]:
            best = (c, score)
    return best[0] if best else None


def write_rows(path: Path, rows) -> None:
    keys = ["volume", "method", "compactness", "K", "k", "asa", "br", "bp", "ue", "ev", "co", "seconds", "peak_mb"]
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, keys, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def confirm(out: Path, repeats: int) -> None:
    """The default against slic's default on three synthetic nucleus volumes, once."""
    from lnsnet.volume import DEFAULTS

    default = DEFAULTS["compactness"]
    methods = [("lnsnet", default, f"lnsnet (default, compactness {default:g})"),
               ("slic", 10.0, "slic (default, compactness 10)")]
    rows = []
    for i in range(3):
        vol, gt, sp = nuclei(i)
        for k in KS:
            for method, c, label in methods:
                r, _ = measure(method, c, vol, gt, k, sp, None, repeats)
                rows.append({"volume": f"nuclei_{i}", "method": label, "compactness": c, "K": k, **r})
                print(f"confirm nuclei_{i} {label} K={k} k={r['k']} asa={r['asa']:.4f} br={r['br']:.4f} "
                      f"co={r['co']:.3f} t={r['seconds']:.2f}s", flush=True)
    write_rows(out / "confirm_rows.csv", rows)
    (out / "confirm.md").write_text(table(rows))


def at_co(rows, co: float):
    """Linear interpolation of ``rows`` (one method, one volume, one K; each with co, asa, br,
    k) at ``co``; None when ``co`` lies outside their CO range."""
    pts = sorted(rows, key=lambda r: r["co"])
    for a, b in zip(pts, pts[1:]):
        if a["co"] <= co <= b["co"]:
            t = 0.0 if b["co"] == a["co"] else (co - a["co"]) / (b["co"] - a["co"])
            return {m: a[m] + t * (b[m] - a[m]) for m in ("asa", "br", "ue", "k")}
    return None


def frontier(out: Path, root: Path) -> None:
    """Both methods along their compactness on the test volumes and the confirmation family;
    lnsnet read at slic's default's CO. Chooses nothing."""
    volumes = [(name, vol, gt, sp, ignore) for name, vol, gt, sp, ignore in plantseg(root)]
    volumes += [(f"nuclei_{i}", *nuclei(i), None) for i in range(3)]
    rows = []
    for name, vol, gt, sp, ignore in volumes:
        for k in KS:
            for method, grid in (("lnsnet", FRONTIER_LNSNET), ("slic", FRONTIER_SLIC)):
                for c in grid:
                    r, _ = measure(method, c, vol, gt, k, sp, ignore, 1)
                    rows.append({"volume": name, "method": method, "compactness": c, "K": k, **r})
                    print(f"frontier {name} {method} c={c} K={k} k={r['k']} asa={r['asa']:.4f} "
                          f"br={r['br']:.4f} co={r['co']:.3f}", flush=True)
    write_rows(out / "frontier_rows.csv", rows)
    (out / "frontier.md").write_text(frontier_table(rows))
    frontier_figure(rows, out / "frontier.png")


def frontier_table(rows) -> str:
    lines = ["| volume | K | slic (default): k / ASA / BR / UE / CO | lnsnet at that CO: k / ASA / BR / UE | "
             "dASA | dBR |", "|---|---:|---|---|---:|---:|"]
    for name in dict.fromkeys(r["volume"] for r in rows):
        for k in KS:
            s = [r for r in rows if r["volume"] == name and r["K"] == k and r["method"] == "slic"
                 and r["compactness"] == 10.0]
            if not s:
                continue
            s = s[0]
            m = at_co([r for r in rows if r["volume"] == name and r["K"] == k and r["method"] == "lnsnet"], s["co"])
            ours = "outside lnsnet's CO range" if m is None else \
                f"{m['k']:.0f} / {m['asa']:.4f} / {m['br']:.4f} / {m['ue']:.4f}"
            d = ("-", "-") if m is None else (f"{m['asa'] - s['asa']:+.4f}", f"{m['br'] - s['br']:+.4f}")
            lines.append(f"| {name} | {k} | {s['k']} / {s['asa']:.4f} / {s['br']:.4f} / {s['ue']:.4f} / "
                         f"{s['co']:.3f} | {ours} | {d[0]} | {d[1]} |")
    return "\n".join(lines) + "\n"


def frontier_figure(rows, path: Path, ks=(100, 500, 2000)) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lnsnet.volume import DEFAULTS

    names = list(dict.fromkeys(r["volume"] for r in rows))
    fig, axes = plt.subplots(2, len(names), figsize=(3.3 * len(names), 6.4), squeeze=False)
    colours = dict(zip(ks, ("tab:blue", "tab:orange", "tab:green")))
    for j, name in enumerate(names):
        for i, metric in enumerate(("br", "asa")):
            ax = axes[i][j]
            for k in ks:
                for method, style in (("lnsnet", "-o"), ("slic", "--s")):
                    pts = sorted((r for r in rows if r["volume"] == name and r["K"] == k and r["method"] == method),
                                 key=lambda r: r["co"])
                    ax.plot([r["co"] for r in pts], [r[metric] for r in pts], style, color=colours[k], ms=3,
                            lw=1, label=f"{method} K={k}")
                    dflt = [r for r in pts if r["compactness"] == (10.0 if method == "slic" else DEFAULTS["compactness"])]
                    if dflt:
                        ax.plot(dflt[0]["co"], dflt[0][metric], "k*" if method == "lnsnet" else "kx", ms=8)
            ax.set_xlabel("CO (compactness)")
            ax.set_ylabel(metric.upper())
            ax.set_title(name, fontsize=9)
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=6)
    fig.suptitle("BR and ASA against shape: lnsnet (solid) and slic (dashed) along their compactness; "
                 "defaults: * lnsnet, x slic", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table(rows) -> str:
    lines = ["| volume | K | method | k | ASA | BR | BP | UE | EV | CO | time s | peak MB |", "|---" * 12 + "|"]
    for r in rows:
        lines.append(f"| {r['volume']} | {r['K']} | {r['method']} | {r['k']} | {r['asa']:.4f} | {r['br']:.4f} | "
                     f"{r['bp']:.4f} | {r['ue']:.4f} | {r['ev']:.4f} | {r['co']:.3f} | {r['seconds']:.2f} | "
                     + ("" if r["peak_mb"] != r["peak_mb"] else f"{r['peak_mb']:.0f}") + " |")
    return "\n".join(lines) + "\n"


def figure(vol, labs: dict, path: Path, z: int):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from skimage.segmentation import mark_boundaries

    fig, axes = plt.subplots(1, len(labs), figsize=(4 * len(labs), 4.2))
    for ax, (title, lab) in zip(np.atleast_1d(axes), labs.items()):
        sl = vol[z].astype(np.float64)
        sl = (sl - sl.min()) / max(1e-9, np.ptp(sl))
        ax.imshow(mark_boundaries(np.dstack([sl] * 3), lab[z], color=(1, 0.85, 0)))
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--root", default=os.environ.get("LNSNET_VOLUMES", "../shared/data/volumes-plantseg"))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--val-volumes", type=int, default=3)
    only = p.add_mutually_exclusive_group()
    only.add_argument("--val-only", action="store_true", help="stop after choosing on val")
    only.add_argument("--frontier", action="store_true",
                      help="run both methods along their compactness on the test volumes and the confirmation "
                           "family and read lnsnet at slic's default's CO (chooses nothing)")
    only.add_argument("--confirm", action="store_true",
                   help="only score lnsnet's default and slic's on the synthetic nuclei (a family the settings "
                        "were not chosen on) and write confirm_rows.csv and confirm.md")
    a = p.parse_args()
    out = Path(a.output)
    out.mkdir(parents=True, exist_ok=True)
    import lnsnet

    lnsnet.segment(np.random.default_rng(0).random((8, 8, 8)).astype(np.float32), 8, channel_axis=None)  # compile
    if a.confirm:
        return confirm(out, a.repeats)
    if a.frontier:
        return frontier(out, Path(a.root))

    val_rows = []
    for i in range(a.val_volumes):
        vol, gt, sp = synthetic(i)
        for k in KS:
            for method, grid in (("lnsnet", LNSNET_GRID), ("slic", SLIC_GRID)):
                for c in grid:
                    r, _ = measure(method, c, vol, gt, k, sp, None, 1)
                    val_rows.append({"volume": f"synthetic_{i}", "method": method, "compactness": c, "K": k, **r})
                    print(f"val synthetic_{i} {method} c={c} K={k} k={r['k']} asa={r['asa']:.4f} br={r['br']:.4f}",
                          flush=True)
    write_rows(out / "val_rows.csv", val_rows)
    chosen = {m: choose(val_rows, m) for m in ("lnsnet", "slic")}
    chosen[BOUNDED] = choose(val_rows, "lnsnet", min_co=CO_BOUND)
    chosen[MATCHED] = choose(val_rows, "lnsnet", min_co=mean_co(val_rows, "slic", 10.0))
    print("chosen on val:", chosen, flush=True)
    if a.val_only:
        return

    from lnsnet.volume import DEFAULTS

    default = DEFAULTS["compactness"]
    if chosen[BOUNDED] != default:
        print(f"note: the val choice ({chosen[BOUNDED]}) is not lnsnet's default ({default})", flush=True)
    methods = [("lnsnet", default, f"lnsnet (default, compactness {default:g})")]
    if chosen["lnsnet"] not in (None, default):
        methods.append(("lnsnet", chosen["lnsnet"], f"lnsnet (val-tuned, no shape bound, compactness "
                                                    f"{chosen['lnsnet']:g})"))
    if chosen[MATCHED] not in (None, default):
        methods.append(("lnsnet", chosen[MATCHED], f"lnsnet (compactness {chosen[MATCHED]:g}: val CO >= "
                                                   "slic's default)"))
    methods.append(("slic", 10.0, "slic (default, compactness 10)"))
    if chosen["slic"] not in (None, 10.0):
        methods.append(("slic", chosen["slic"], f"slic (val-tuned, compactness {chosen['slic']:g})"))
    test_rows = []
    pictures = {}
    for name, vol, gt, sp, ignore in plantseg(Path(a.root)):
        for k in KS:
            for method, c, label in methods:
                r, lab = measure(method, c, vol, gt, k, sp, ignore, a.repeats, memory=k == 1000)
                test_rows.append({"volume": name, "method": label, "compactness": c, "K": k, **r})
                if k == 500 and name == "ovule_sample":
                    pictures[label] = lab
                print(f"test {name} {label} K={k} k={r['k']} asa={r['asa']:.4f} br={r['br']:.4f} "
                      f"t={r['seconds']:.2f}s mem={r['peak_mb']:.0f}MB", flush=True)
        if name == "ovule_sample":
            pictures = {"ground truth": gt, **pictures}
            figure(vol, pictures, out / "ovule_slice.png", z=vol.shape[0] // 2)

    write_rows(out / "test_rows.csv", test_rows)
    (out / "summary.md").write_text(table(test_rows))
    meta = {"chosen_on_val": chosen, "ks": KS, "slic_grid": SLIC_GRID, "lnsnet_grid": LNSNET_GRID,
            "repeats": a.repeats, "machine": platform.platform(), "processor": platform.processor(),
            "cpus": os.cpu_count(), "lnsnet": lnsnet.__version__}
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    print(table(test_rows))


if __name__ == "__main__":
    main()
