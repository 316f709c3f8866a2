"""Process-level settings: threads, memory, glibc tuning for fast CPU inference, and
whether the compiled kernels are on disk.

:func:`set_threads` is the one place that sets how many CPU threads torch, the numba
kernels and OpenCV use. :func:`memory_bytes` is the memory this process may use.
:func:`kernels_cached` says whether the numba kernels are in numba's on-disk cache for
this machine: the first call after an install compiles them (10-30 s), later calls load
them (``lnsnet segment`` says so in one line before it compiles). :func:`warm_kernels`
compiles them ahead: ``pip install`` runs it while it builds the package (``setup.py``), so
the installed package carries the kernels compiled for the machine it was built on (numba's
cache is keyed by the source's content, the CPU and numba's version; anywhere else they are
compiled on first use, as before).

glibc tuning (:func:`tune_malloc`):

glibc serves every allocation above its mmap threshold (at most 32 MB, dynamically) with
a fresh ``mmap`` and gives it back with ``munmap`` on free, so each of the network's big
temporary buffers (the convolutions' im2col workspace is ~200 MB for a 481x321 image) is
page-faulted and zeroed anew on every call: measured here, a 481x321 image took 143 ms
without this tuning and 77 ms with it (``benchmarks/profile_stages.py``). Raising the mmap and trim thresholds to 1 GiB lets freed buffers be
reused from the heap (at most 1 GiB of freed memory stays with the process; larger
buffers are still mapped and unmapped). Opt out with ``LNSNET_NO_MALLOC_TUNING=1``.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import importlib
import inspect
import os
import sys
from pathlib import Path

from .errors import ArgumentTypeError

__all__ = ["progress_bar", "thread_counts", "set_threads", "restore_threads", "memory_bytes", "tune_malloc", "kernels_cached", "warm_kernels",
           "parallel_kernel",
           "KERNEL_MODULES"]

# the modules whose numba kernels (cache=True) an lnsnet.segment call compiles
KERNEL_MODULES = ("lnsnet.features", "lnsnet.connectivity", "lnsnet.cluster.kernels", "lnsnet.model.nhwc",
                  "lnsnet.flood")

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_LIMIT = 1 << 30
_done = False


class _Steps:
    """A progress of ``total`` steps: a tqdm bar on stderr (``progress`` true), calls of
    ``progress(done, total)`` after each step (``progress`` a callable), or nothing."""

    def __init__(self, progress, total: int, desc: str, unit: str, show: bool = True):
        self.total, self.done = int(total), 0
        self.call = progress if callable(progress) else None
        self.bar = None
        if progress and self.call is None and show:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, unit=unit, desc=desc, leave=False, dynamic_ncols=True)

    def update(self, n: int = 1) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        if self.call is not None:
            self.call(min(self.done, self.total), self.total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def progress_bar(progress, total: int, desc: str, unit: str, show: bool = True) -> _Steps:
    """How long work reports its steps, as ``segment(..., progress=)`` asks: ``True`` a bar
    on stderr (only where ``show``: large enough to be worth one), a callable
    ``progress(done, total)`` called after every step (a GUI's own bar; always), ``False``
    nothing. Has ``update(n=1)`` and ``close()``."""
    return _Steps(check_progress(progress), total, desc, unit, show)


def user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning issued by the caller of this function at the
    first frame outside the lnsnet package (the user's line, however deep the call)."""
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame, level = sys._getframe(1), 1  # the function that warns: level 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def check_progress(progress):
    """``progress`` if it is True, False (or None) or a callable, else ``TypeError``."""
    import numpy as np

    if not (progress is None or isinstance(progress, (bool, np.bool_)) or callable(progress)):
        raise ArgumentTypeError(f"progress must be True, False or a callable progress(done, total), got {progress!r}")
    return progress


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


def thread_counts() -> tuple:
    """The CPU thread counts of torch, the numba kernels and OpenCV (None where OpenCV is
    not installed), as :func:`restore_threads` takes them."""
    import numba
    import torch

    try:
        import cv2
    except ImportError:  # OpenCV is optional (the eval extra)
        cv2 = None
    return torch.get_num_threads(), numba.get_num_threads(), cv2.getNumThreads() if cv2 else None


def set_threads(n: int) -> tuple:
    """Use ``n`` CPU threads in torch, the numba kernels and OpenCV (if installed); return
    the previous counts, for :func:`restore_threads`."""
    import numba
    import torch

    n = max(1, int(n))
    before = thread_counts()
    torch.set_num_threads(n)
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    if before[2] is not None:
        import cv2

        cv2.setNumThreads(n)
    return before


# ------------------------------------------------------------------------ forked children
# GNU OpenMP, the runtime of numba's "omp" threading layer and of torch's CPU threads, cannot
# run in a process forked after it started: numba terminates such a child ("fork() called
# from a process already using GNU OpenMP"), torch hangs it. Linux forks by default (a
# multiprocessing.Pool, a DataLoader's workers), so a parent that has segmented would hand
# its workers a crash or a hang. In a child forked after lnsnet ran, the kernels run their
# serial twins (compiled on first use there, then cached on disk) and torch one thread, as
# a DataLoader's workers do: the same labels up to float rounding at near-ties. The kernels
# stay plain numba dispatchers (no wrapper on the calls): the child rebinds their names.
_USED = False        # this process has run lnsnet's network (segment's guard says so)
_SERIAL = False      # a child forked after numba's OpenMP layer started: the kernels are serial
_PARALLEL: list = []  # (module, name, function, options) of every kernel made by parallel_kernel


def _layer_forksafe() -> bool:
    """Whether numba's threading layer in this process survives a fork (True when it
    never started)."""
    par = sys.modules.get("numba.np.ufunc.parallel")
    if par is None or not getattr(par, "_is_initialized", False):
        return True
    try:
        import numba

        return numba.threading_layer() != "omp"
    except Exception:  # numba's internals changed: assume the worst
        return False


def _after_fork_in_child() -> None:
    global _SERIAL
    if not _SERIAL and not _layer_forksafe():
        _SERIAL = True
        for module, name, fn, options in _PARALLEL:  # each module's kernel replaced by its twin
            mod = sys.modules.get(module)
            if mod is not None and getattr(mod, name, None) is not None:
                setattr(mod, name, serial_twin(fn, options))
    torch = sys.modules.get("torch")
    if _USED and torch is not None:
        torch.set_num_threads(1)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def parallel_kernel(**options):
    """``numba.njit(parallel=True, **options)``, as a decorator, for a module-level kernel
    that lnsnet's code calls by its module's name for it: in a child forked after the
    parallel layer started, that name is bound to the kernel's :func:`serial_twin`."""
    def decorate(fn):
        import numba

        _PARALLEL.append((fn.__module__, fn.__name__, fn, dict(options)))
        if _SERIAL:  # a module first imported in such a child
            return serial_twin(fn, options)
        return numba.njit(parallel=True, **options)(fn)

    return decorate


def serial_twin(fn, options: dict):
    """``fn`` compiled without ``parallel`` (``prange`` as ``range``), under the name
    ``<name>_serial`` so that numba's disk cache keeps it apart from the parallel kernel;
    compiled on its first call, then cached."""
    import types

    import numba

    twin = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_serial", fn.__defaults__, fn.__closure__)
    twin.__qualname__ = fn.__qualname__ + "_serial"
    twin.__module__ = fn.__module__
    return numba.njit(parallel=False, **options)(twin)


class numba_follows_torch:
    """Within it, the numba kernels use at most torch's thread count in the calling thread
    (a DataLoader worker's torch runs 1 thread: the kernels ran 2 there, and a pool of
    workers on 2 cores took 3-30 times its time); numba's own count back after it."""

    def __enter__(self):
        import numba
        import torch

        global _USED
        _USED = True  # the network runs on torch's threads inside
        self.before = numba.get_num_threads()
        want = max(1, min(self.before, torch.get_num_threads()))
        if want != self.before:
            numba.set_num_threads(want)
        return self

    def __exit__(self, *exc):
        import numba

        if numba.get_num_threads() != self.before:
            numba.set_num_threads(self.before)
        return False


def restore_threads(before: tuple) -> None:
    """Undo :func:`set_threads` with the counts it returned."""
    import numba
    import torch

    torch.set_num_threads(before[0])
    numba.set_num_threads(before[1])
    if before[2] is not None:
        import cv2

        cv2.setNumThreads(before[2])


def memory_bytes() -> int:
    """Memory this process may use: the machine's physical memory, or the container's
    cgroup limit where that is lower (bytes; 8 GiB where neither can be read)."""
    try:
        total = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        total = 8 << 30
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            limit = Path(path).read_text().strip()
        except OSError:
            continue
        if limit.isdigit() and 0 < int(limit) < total:
            total = int(limit)
    return total


def kernels_cached(modules=KERNEL_MODULES) -> bool:
    """Whether the numba kernels of ``modules`` (those compiled on their own: cached, not
    inlined) are in numba's on-disk cache for this machine, for the sources as they are
    now: False when most of them would be compiled on their next call (a fresh install, an
    empty ``NUMBA_CACHE_DIR``, changed sources, another CPU or numba version). A kernel
    counts as cached when its cache index holds an entry whose key (signature, CPU,
    bytecode hash) is the one numba would look up for that signature; True where this
    cannot be told (numba's cache internals changed, caching or the JIT disabled).
    Imports ``modules`` (and so numba)."""
    kernels = _kernels(modules)
    cold = sum(not _kernel_cached(k) for k in kernels)
    return 2 * cold <= len(kernels)


def _kernels(modules=KERNEL_MODULES) -> list:
    """The numba kernels defined in ``modules`` that are compiled on their own (cached, not
    inlined into others)."""
    from numba.core.registry import CPUDispatcher

    return [k for name in modules for k in vars(importlib.import_module(name)).values()
            if isinstance(k, CPUDispatcher) and k.__module__ == name
            and k.targetoptions.get("inline", "never") == "never"]


def _kernel_cached(kernel) -> bool:
    try:
        cache = kernel._cache
        index = cache._cache_file._load_index()
        codegen = kernel.targetctx.codegen()
        return any(cache._index_key(key[0], codegen) == key for key in index)
    except Exception:  # no disk cache (NullCache) or other numba internals: cannot tell
        return True


def warm_kernels() -> int:
    """Compile (or load) every numba kernel a ``segment`` call uses, for the argument types
    it passes, by segmenting small synthetic images the ways the package does: colour, gray,
    other channel counts, a mask, the paper's clustering, in bands. Returns the number of
    kernel signatures now compiled."""
    import numpy as np

    from .inference import segment

    rng = np.random.default_rng(0)
    rgb = (rng.random((48, 64, 3)) * 255).astype(np.uint8)
    mask = np.zeros((48, 64), bool)
    mask[4:44, 8:60] = True
    for clustering in ("compact", "fast", "paper"):
        segment(rgb, 12, clustering=clustering)
        segment(rgb, 12, clustering=clustering, tile_pixels=1000)  # in bands
        segment([rgb, rgb], 12, clustering=clustering)
    segment(rgb[..., 0], 12)
    segment(rgb, 12, mask=mask, spacing=(2.0, 1.0), enforce_connectivity=True, max_size_factor=2.0)
    segment(rgb, 12, enforce_connectivity=False)
    segment(rng.random((48, 64, 5)), 12, channel_axis=-1)
    hole = np.ones((48, 64), bool)
    hole[20:28, 28:36] = False  # the one cell's centre outside the mask: its nearest valid pixel seeds it
    segment(rgb, 1, mask=hole, boundaries="bright")
    # volumes (supervoxels and the 3-D flood): the types files and arrays come in
    vol = rng.random((6, 16, 20))
    vmask = np.ones(vol.shape, bool)
    vmask[:, :4] = False
    for v in ((vol * 255).astype(np.uint8), (vol * 65535).astype(np.uint16), vol.astype(np.float32), vol):
        segment(v, 8, channel_axis=None)
        segment(v, 8, channel_axis=None, boundaries="bright")
    segment(vol.astype(np.float32), 8, channel_axis=None, mask=vmask, spacing=(2.0, 1.0, 1.0))
    segment(vol.astype(np.float32), 8, channel_axis=None, enforce_connectivity=False)
    segment(vol.astype(np.float32), 8, channel_axis=None, mask=vmask, boundaries="dark")
    segment(rng.random((6, 16, 20, 3)).astype(np.float32), 8)
    import torch

    from .connectivity import enforce_connectivity_torch  # the GPU path's joining of pieces, on the host

    enforce_connectivity_torch(torch.from_numpy(rng.integers(0, 3, (8, 8))), torch.zeros((8, 8, 3)), 4)
    return sum(len(k.signatures) for k in _kernels())


# ------------------------------------------------------------------------- one run at a time

class ProcessLock:
    """An exclusive lock on the file ``path`` while a run writes what it guards: a second
    run, in another process or this one, is refused (``ValueError``: ``busy``, and the
    process and host that hold it). The lock is the operating system's (``flock``): it goes
    with the process that holds it, however that ends, so no lock is ever stale; the file
    is removed when the run ends. Where ``flock`` is missing (Windows) the file itself is the
    lock (one left by a killed run must be deleted by hand: the message says which)."""

    def __init__(self, path, busy: str):
        self.path, self.busy, self.fd = Path(path), busy, None

    def _refuse(self, holder: str):
        return ValueError(f"{self.busy} ({holder or 'another run'}); wait for it, or write elsewhere"
                          + ("" if _flock else f" (if no run is writing it: delete {self.path})"))

    def __enter__(self):
        me = f"process {os.getpid()} on {_node()}"
        for _ in range(100):  # the file went away under us (its holder ended): take the new one
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | (0 if _flock else os.O_EXCL), 0o644)
            except FileExistsError:
                raise self._refuse(_read(self.path)) from None
            except OSError as exc:
                raise ValueError(f"cannot take the lock {self.path}: {exc.strerror or exc}") from None
            if _flock:
                try:
                    _flock.flock(fd, _flock.LOCK_EX | _flock.LOCK_NB)
                except OSError:
                    os.close(fd)
                    raise self._refuse(_read(self.path)) from None
                try:
                    same = os.path.samestat(os.fstat(fd), os.stat(self.path))
                except OSError:
                    same = False
                if not same:  # removed (and perhaps made again) by a run that ended meanwhile
                    os.close(fd)
                    continue
                os.ftruncate(fd, 0)
            os.write(fd, me.encode())
            self.fd = fd
            return self
        raise ValueError(f"cannot take the lock {self.path}")

    def __exit__(self, *exc):
        if self.fd is not None:
            try:
                self.path.unlink()  # while it is held: a run waiting on it takes the next file
            except OSError:
                pass
            os.close(self.fd)
            self.fd = None
        return False


try:
    import fcntl as _flock
except ImportError:  # Windows
    _flock = None


@contextlib.contextmanager
def folder_lock(folder, wait: float = 10.0):
    """Hold an exclusive lock on ``folder`` itself (``flock`` on its descriptor: no file left
    in it) for a short read-modify-write of a file several runs into one folder share,
    waiting up to ``wait`` seconds for another holder (a run of lnsnet's, or a user's
    ``flock OUT ...`` that holds it for a whole run), then going on without it. Without
    ``flock`` (Windows), or where the folder cannot be opened so, nothing is held."""
    import time

    fd = None
    try:
        if _flock is not None:
            try:
                fd = os.open(folder, os.O_RDONLY)
                end = time.monotonic() + wait
                while True:
                    try:
                        _flock.flock(fd, _flock.LOCK_EX | _flock.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() >= end:
                            raise
                        time.sleep(0.05)
            except OSError:  # (busy past the wait, or no flock here: unlocked)
                if fd is not None:
                    os.close(fd)
                fd = None
        yield
    finally:
        if fd is not None:
            os.close(fd)  # (closing releases the lock)


def _node() -> str:
    import platform

    return platform.node() or "this machine"


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace").strip()[:200]
    except OSError:
        return ""


def locked_output(param: str):
    """Decorator: a call whose file argument ``param`` is given holds a :class:`ProcessLock`
    on it (``.NAME.lock`` beside it; its folder made, and removed again if left empty) while
    it runs: two runs writing one model file are refused, not interleaved."""
    def wrap(fn):
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def run(*args, **kwargs):
            target = signature.bind(*args, **kwargs).arguments.get(param)
            if target is None:
                return fn(*args, **kwargs)
            target = Path(target)
            made = [d for d in (target.parent, *target.parent.parents) if not d.exists()]
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except OSError:  # nowhere to put a lock: nothing can be written there either; the run says so
                return fn(*args, **kwargs)
            try:
                with ProcessLock(target.with_name(f".{target.name}.lock"),
                                 f"{target} is being written by another run"):
                    return fn(*args, **kwargs)
            finally:  # folders made for the lock and left empty (the run wrote nothing) go again
                for d in made:
                    try:
                        d.rmdir()
                    except OSError:
                        break

        return run

    return wrap
