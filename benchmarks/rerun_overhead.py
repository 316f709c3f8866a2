"""The bookkeeping a rerun of a large flat folder pays besides segmenting: the removal of
temporary files a killed run left (``lnsnet.jobs.remove_stale_temps``), with four outputs
an image already in the output folder. Prints the median of ``--repeats`` and, with
``--base OTHER/src``, the same for another checkout and the ratio.

    python benchmarks/rerun_overhead.py --images 1000,2000 --base OLD/src
"""
import argparse
import statistics
import subprocess
import sys
from pathlib import Path

CODE = r"""
import sys, time, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from lnsnet.jobs import SegmentOptions, remove_stale_temps
d = Path(tempfile.mkdtemp()); out = d / "out"; out.mkdir()
files = [d / f"img{i}.png" for i in range(int(sys.argv[2]))]
for f in files:
    f.write_bytes(b"x")
    for suffix in ("_labels.png", "_labels.npy", "_overlay.png", "_labels.json"):
        (out / f"{f.stem}{suffix}").write_bytes(b"o")
t = time.perf_counter(); remove_stale_temps(files, out, SegmentOptions(), min_age=0)
print(time.perf_counter() - t)
"""


def timed(src: str, n: int, repeats: int) -> float:
    return statistics.median(float(subprocess.run([sys.executable, "-c", CODE, src, str(n)], capture_output=True,
                                                  text=True, check=True).stdout) for _ in range(repeats))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--images", default="1000,2000")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--base", default=None, help="another checkout's src folder, timed in the same run")
    a = p.parse_args()
    here = str(Path(__file__).resolve().parents[1] / "src")
    for n in map(int, a.images.split(",")):
        t = timed(here, n, a.repeats)
        line = f"{n} images: {t:.3f} s"
        if a.base:
            b = timed(a.base, n, a.repeats)
            line += f"; base {b:.3f} s; ratio {t / b:.4f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
