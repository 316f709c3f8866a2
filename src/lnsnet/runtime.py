"""Process-level tuning for fast CPU inference.

glibc serves every allocation above its mmap threshold (at most 32 MB, dynamically) with
a fresh ``mmap`` and gives it back with ``munmap`` on free, so each of the network's big
temporary buffers (the convolutions' im2col workspace is ~200 MB for a 481x321 image) is
page-faulted and zeroed anew on every call: measured here, a 481x321 image took 143 ms
without this tuning and 77 ms with it (``benchmarks/profile_stages.py``). Raising the mmap and trim thresholds to 1 GiB lets freed buffers be
reused from the heap (at most 1 GiB of freed memory stays with the process; larger
buffers are still mapped and unmapped). Opt out with ``LNSNET_NO_MALLOC_TUNING=1``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_LIMIT = 1 << 30
_done = False


def tune_malloc() -> bool:
    """Raise glibc's mmap/trim thresholds once per process; True if it was applied."""
    global _done
    if _done:
        return True
    _done = True
    if not sys.platform.startswith("linux") or os.environ.get("LNSNET_NO_MALLOC_TUNING"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, _LIMIT) == 1
    ok = mallopt(_M_TRIM_THRESHOLD, _LIMIT) == 1 and ok
    return ok
