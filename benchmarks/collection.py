"""What a collection costs beyond segmenting its images, against another checkout in the
same run (``--base OTHER/src``), medians of ``--repeats``:

- ``rerun``: the removal of temporary files a killed run left
  (``lnsnet.jobs.remove_stale_temps``) in a flat folder whose images' four outputs each are
  already there, for ``--images`` counts;
- ``large``: ``lnsnet segment`` of a folder of 8 synthetic 3000x2000 JPEG photos at K = 2000
  on one thread: wall time and peak resident memory (the child's ``ru_maxrss``), and
  whether the two checkouts' labels are the same;
- ``features``: ``lnsnet segment --features`` over a folder of ``--images`` synthetic
  481x321 photos (K = 400, one thread) whose labels a run without ``--features`` made
  before: the rerun that adds the per-superpixel tables, wall time of the whole command.

    python benchmarks/collection.py rerun --images 1000,2000 --base OLD/src
    python benchmarks/collection.py large --base OLD/src
    python benchmarks/collection.py features --images 40 --base OLD/src
"""
import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RERUN = r"""
import sys, time, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from lnsnet.jobs import SegmentOptions, remove_stale_temps
with tempfile.TemporaryDirectory() as tmp:
    d = Path(tmp); out = d / "out"; out.mkdir()
    files = [d / f"img{i}.png" for i in range(int(sys.argv[2]))]
    for f in files:
        f.write_bytes(b"x")
        for suffix in ("_labels.png", "_labels.npy", "_overlay.png", "_labels.json"):
            (out / f"{f.stem}{suffix}").write_bytes(b"o")
    t = time.perf_counter(); remove_stale_temps(files, out, SegmentOptions(), min_age=0)
    print(time.perf_counter() - t)
"""

SEGMENT = "import sys; sys.path.insert(0, sys.argv.pop(1)); from lnsnet.cli import main; sys.exit(main())"


def rerun(src: str, n: int, repeats: int) -> float:
    return statistics.median(float(subprocess.run([sys.executable, "-c", RERUN, src, str(n)], capture_output=True,
                                                  text=True, check=True).stdout) for _ in range(repeats))


def photos(folder: Path) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    y, x = np.mgrid[:2000, :3000]
    for i in range(8):
        img = np.stack([np.sin(x / (40 + 5 * i)), np.cos(y / 57.0), np.sin((x + y) / 90.0)], -1) * 100 + 128
        img = (img + rng.normal(0, 8, img.shape)).clip(0, 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"p{i}.jpg", quality=90)


def small_photos(folder: Path, n: int) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(1)
    y, x = np.mgrid[:321, :481]
    for i in range(n):
        img = np.stack([np.sin(x / (9 + i % 7)), np.cos(y / (13.0 + i % 5)), np.sin((x + y) / 21.0)], -1) * 100 + 128
        img = (img + rng.normal(0, 8, img.shape)).clip(0, 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"s{i:03d}.jpg", quality=90)


def features(src: str, folder: Path, out: Path, repeats: int) -> float:
    """Median seconds of the rerun that adds ``--features`` to outputs made without it."""
    base = [sys.executable, "-c", SEGMENT, src, "segment", str(folder), "-o", str(out), "-k", "400", "--threads", "1",
            "-q"]
    subprocess.run(base, check=True)
    times = []
    for _ in range(repeats):
        for f in out.glob("*_regions.csv"):  # the tables gone again: the rerun adds them
            f.unlink()
        t = time.perf_counter()
        subprocess.run(base + ["--features"], check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def large(src: str, folder: Path, out: Path) -> tuple[float, float, str]:
    """One run in a fresh process: seconds, peak MiB, a digest of the labels."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", SEGMENT, src, "segment", str(folder), "-o", str(out), "-k", "2000",
                             "--threads", "1", "-q", "--overwrite"])
    _, status, usage = os.wait4(proc.pid, 0)
    if status:
        raise SystemExit(f"lnsnet segment failed ({status})")
    digest = hashlib.sha256(b"".join((out / f"p{i}_labels.npy").read_bytes() for i in range(8))).hexdigest()[:12]
    return time.perf_counter() - t, usage.ru_maxrss / 1024, digest


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=("rerun", "large", "features"))
    p.add_argument("--images", default="1000,2000", help="rerun: image counts; features: one count")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--base", default=None, help="another checkout's src folder, timed in the same run")
    a = p.parse_args()
    here = str(Path(__file__).resolve().parents[1] / "src")
    srcs = [("this", here)] + ([("base", a.base)] if a.base else [])
    if a.mode == "rerun":
        for n in map(int, a.images.split(",")):
            t = {name: rerun(src, n, a.repeats) for name, src in srcs}
            print(f"{n} images: " + "; ".join(f"{name} {v:.3f} s" for name, v in t.items())
                  + (f"; ratio {t['this'] / t['base']:.4f}" if a.base else ""), flush=True)
        return
    if a.mode == "features":
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "photos"
            folder.mkdir()
            small_photos(folder, int(a.images.split(",")[0]))
            t = {name: features(src, folder, Path(tmp) / name, a.repeats) for name, src in srcs}
            print(f"{a.images.split(',')[0]} images, --features added on a rerun: "
                  + "; ".join(f"{name} {v:.2f} s" for name, v in t.items())
                  + (f"; ratio {t['this'] / t['base']:.3f}" if a.base else ""), flush=True)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        photos(folder)
        runs = {name: [] for name, _ in srcs}
        for _ in range(a.repeats):
            for name, src in srcs:  # interleaved: a busier moment touches both
                runs[name].append(large(src, folder, Path(tmp) / name))
        for name, r in runs.items():
            print(f"{name}: {statistics.median(x[0] for x in r):.1f} s, peak {statistics.median(x[1] for x in r):.0f} "
                  f"MiB, labels {r[0][2]}", flush=True)
        if a.base:
            t = statistics.median(x[0] for x in runs["this"]) / statistics.median(x[0] for x in runs["base"])
            m = statistics.median(x[1] for x in runs["this"]) / statistics.median(x[1] for x in runs["base"])
            print(f"ratio this / base: time {t:.2f}, peak memory {m:.2f}")


if __name__ == "__main__":
    main()
