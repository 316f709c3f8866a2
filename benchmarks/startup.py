"""Startup times, as a user meets them: each command a fresh process (wall time).

    python benchmarks/startup.py [--repeat 5] [--cold-repeat 3] [--threads 2]

Prints the median wall time of ``python -c "import lnsnet"``, ``lnsnet --help`` and
``lnsnet segment --help`` (``--repeat`` runs each), then of a first and a second
``lnsnet segment`` of the shipped example (``src/lnsnet/examples/coffee.jpg``, K=100)
with a cold numba cache: each of the ``--cold-repeat`` rounds points NUMBA_CACHE_DIR at a
new empty folder, so the first call compiles the kernels and the second loads them; and
whether the first call said so in its one line and the second did not. The machine's
load average is printed first: other processes slow every number here.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "src" / "lnsnet" / "examples" / "coffee.jpg"


def _lnsnet() -> list[str]:
    """The installed ``lnsnet`` script beside this Python, else ``python -m lnsnet.cli``."""
    script = Path(sys.executable).with_name("lnsnet")
    return [str(script)] if script.exists() else [sys.executable, "-m", "lnsnet.cli"]


def _run(cmd, env=None) -> tuple[float, str]:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr}")
    return dt, r.stderr


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5, help="runs of each quick command (default 5)")
    ap.add_argument("--cold-repeat", type=int, default=3, help="cold-cache rounds of first + second segment (default 3)")
    ap.add_argument("--threads", type=int, default=2, help="--threads of lnsnet segment (default 2)")
    args = ap.parse_args(argv)

    from lnsnet.cli import COMPILING

    lnsnet = _lnsnet()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {_loadavg()}, lnsnet as: {' '.join(lnsnet)}")
    quick = {
        'python -c "import lnsnet"': [sys.executable, "-c", "import lnsnet"],
        "lnsnet --help": lnsnet + ["--help"],
        "lnsnet segment --help": lnsnet + ["segment", "--help"],
    }
    for name, cmd in quick.items():
        times = [_run(cmd)[0] for _ in range(args.repeat)]
        print(f"{name:<28} median {statistics.median(times):6.3f} s  (min {min(times):.3f}, max {max(times):.3f}, "
              f"{args.repeat} runs)")

    first, second, said = [], [], []
    work = Path(tempfile.mkdtemp(prefix="lnsnet-startup-"))
    try:
        for i in range(args.cold_repeat):
            cache = work / f"numba-cache-{i}"
            cache.mkdir()
            env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
            cmd = lnsnet + ["segment", str(EXAMPLE), "-k", "100", "-o", str(work / f"out-{i}"), "--overwrite",
                            "--threads", str(args.threads)]
            dt1, err1 = _run(cmd, env)
            dt2, err2 = _run(cmd, env)
            first.append(dt1)
            second.append(dt2)
            said.append((COMPILING in err1, COMPILING in err2))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if first:
        print(f"{'lnsnet segment, 1st (cold)':<28} median {statistics.median(first):6.3f} s  "
              f"({', '.join(f'{t:.2f}' for t in first)})")
        print(f"{'lnsnet segment, 2nd':<28} median {statistics.median(second):6.3f} s  "
              f"({', '.join(f'{t:.2f}' for t in second)})")
        print(f"first minus second: {statistics.median(first) - statistics.median(second):.2f} s; the one-line "
              f"notice on the first call: {sum(a for a, _ in said)}/{len(said)}, on the second: "
              f"{sum(b for _, b in said)}/{len(said)}")


if __name__ == "__main__":
    main()
