"""Throughput of `lnsnet segment` with the local and the Ray engine (issue 7).

    python benchmarks/engines.py [--images 200] [--k 100] [--address ADDR]

Segments the first N BSDS500 test images into fresh temporary folders with each engine
(the whole command: reading, segmenting, writing labels and overlays; Ray's start-up is
timed separately) and prints images/s, the ratio, and whether the two output folders are
identical byte for byte.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import sys
import tempfile
import time
from pathlib import Path

from _common import add_root  # benchmarks/_common.py, beside this file


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_root(ap)
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--address", default=None, help="Ray cluster (default: Ray on this machine)")
    args = ap.parse_args(argv)

    from lnsnet.cli import main as cli

    files = sorted((Path(args.root) / "images" / "test").glob("*.jpg"))[: args.images]
    if not files:
        sys.exit(f"no BSDS500 test images under {args.root}")
    with tempfile.TemporaryDirectory() as tmp:
        lst = Path(tmp) / "files.txt"
        lst.write_text("\n".join(map(str, files)) + "\n")
        t0 = time.perf_counter()
        rc = cli(["segment", str(lst), "-o", f"{tmp}/local", "-k", str(args.k), "-q"])
        t_local = time.perf_counter() - t0
        assert rc == 0

        import ray

        t0 = time.perf_counter()
        ray.init(address=args.address, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
        t_init = time.perf_counter() - t0
        cpus = ray.cluster_resources().get("CPU", 0)
        t0 = time.perf_counter()
        rc = cli(["segment", str(lst), "-o", f"{tmp}/ray", "-k", str(args.k), "-q", "--engine", "ray"])
        t_ray = time.perf_counter() - t0
        assert rc == 0
        ray.shutdown()
        names = sorted(os.listdir(f"{tmp}/local"))
        match, mismatch, errors = filecmp.cmpfiles(f"{tmp}/local", f"{tmp}/ray", names, shallow=False)
        same = not mismatch and not errors and names == sorted(os.listdir(f"{tmp}/ray"))
    n = len(files)
    print(f"{n} BSDS500 test images, K={args.k}, labels (.npy, .png) and overlay written")
    print(f"local engine: {t_local:6.1f} s  {n / t_local:6.2f} images/s")
    print(f"ray engine:   {t_ray:6.1f} s  {n / t_ray:6.2f} images/s  (cluster: {cpus:.0f} CPUs; "
          f"ray.init {t_init:.1f} s not included)")
    print(f"ray / local throughput: {t_local / t_ray:.2f}")
    print(f"outputs identical byte for byte: {same} ({len(match)} files)")


if __name__ == "__main__":
    main()
