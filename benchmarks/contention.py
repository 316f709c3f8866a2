"""lnsnet.segment's time beside other busy processes (users run several jobs at once).

    python benchmarks/contention.py [--images 10] [--k 100,1000] [--busy 0,1] [--rounds 3]

For each number of busy processes (``--busy``: pure-Python loops, one core each, started
before and stopped after), each setting below runs in a fresh interpreter (the OpenMP
runtimes read their environment when they load), in turns, ``--rounds`` times: the
median over the first ``--images`` BSDS500 test images (the shipped example without
BSDS500) of ``lnsnet.segment`` at each K, after one warm-up call, and of scikit-image's
slic at the same K in the same process. Settings:

- ``spin``: ``GOMP_SPINCOUNT=300000``, GNU OpenMP's own default (an idle thread spins that
  many turns before it sleeps), 2 threads;
- ``spin 10k``: ``GOMP_SPINCOUNT=10000``, 2 threads;
- ``passive``: nothing set: ``import lnsnet`` sets ``OMP_WAIT_POLICY=PASSIVE`` (threads
  sleep at once; since 2026-12-06), 2 threads;
- ``1 thread``: the same with ``lnsnet.runtime.set_threads(1)``.

Prints the medians over the rounds and the ratio to slic of the same process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import add_root  # benchmarks/_common.py, beside this file

SETTINGS = {"spin": ({"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": "300000"}, 2),
            "spin 10k": ({"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": "10000"}, 2),
            "passive": ({"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": None}, 2),
            "1 thread": ({"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": None}, 1)}


def _worker(root: str, n: int, ks: list[int], threads: int) -> dict:
    import lnsnet  # first: it sets the OpenMP wait policy before anything loads OpenMP
    from lnsnet.io import read_image
    from skimage.segmentation import slic

    if threads != 2:
        lnsnet.runtime.set_threads(threads)
    files = sorted((Path(root) / "images" / "test").glob("*.jpg"))[:n]
    files = files or [Path(lnsnet.__file__).parent / "examples" / "coffee.jpg"]
    images = [read_image(f) for f in files]
    out = {}
    for k in ks:
        lnsnet.segment(images[0], k)
        ours, theirs = [], []
        for img in images:
            t = time.perf_counter()
            lnsnet.segment(img, k)
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            slic(img, n_segments=k, start_label=1)
            theirs.append(time.perf_counter() - t)
        out[k] = (statistics.median(ours), statistics.median(theirs))
    return out


def _run(setting: str, args) -> dict:
    env_set, threads = SETTINGS[setting]
    env = dict(os.environ)
    for key, value in env_set.items():
        env.pop(key, None) if value is None else env.__setitem__(key, value)
    code = (f"import sys, json; sys.path.insert(0, {str(Path(__file__).parent)!r}); import contention; "
            f"print(json.dumps(contention._worker({args.root!r}, {args.images}, {args.k!r}, {threads})))")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return {int(k): v for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_root(ap)
    ap.add_argument("--images", type=int, default=10)
    ap.add_argument("--k", default="100,1000")
    ap.add_argument("--busy", default="0,1", help="numbers of busy processes, comma-separated")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    args.k = [int(k) for k in args.k.split(",")]
    print(f"load before: {os.getloadavg()[0]:.2f} (1 min); {os.cpu_count()} cores")
    print("| busy processes | setting | K | lnsnet ms | slic ms | lnsnet / slic |")
    print("|---|---|---|---|---|---|")
    for busy in (int(b) for b in args.busy.split(",")):
        loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
        try:
            runs = {s: [] for s in SETTINGS}
            for _ in range(args.rounds):
                for s in SETTINGS:
                    runs[s].append(_run(s, args))
        finally:
            for p in loops:
                p.kill()
        for s, rs in runs.items():
            for k in args.k:
                ours = statistics.median(r[k][0] for r in rs)
                theirs = statistics.median(r[k][1] for r in rs)
                print(f"| {busy} | {s} | {k} | {ours * 1e3:.0f} | {theirs * 1e3:.0f} | {ours / theirs:.2f} |")


if __name__ == "__main__":
    main()
