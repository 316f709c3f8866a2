"""The Ray engine: ``lnsnet segment --engine ray`` and ``lnsnet benchmark --engine ray``.

Segmenting is a Ray Data pipeline::

    from_items(paths)                   # the files still to do
      -> map_batches(_Segmenter)        # a pool of actors, each loads the model once,
                                        #   reads, segments and writes atomically
      -> outcomes (done / failed)       # streamed back to the driver

(The actors read the files themselves: with Ray Data's read tasks, which each reserve a
CPU, a pool of actors that reserved every CPU left them none, and the run waited for
ever.)

The actors call :func:`lnsnet.jobs.segment_files`, the code the local engine runs, so
the files written are the same. Outputs are written atomically and are a pure function
of the input, so an actor that dies mid-batch is restarted and its batch redone without
losing or duplicating a file; a rerun skips files whose outputs exist.

The benchmark spreads its images (each with the (method, K) pairs still to do) over a
pool of actors that each set up the methods once; rows come back to the driver, which
appends them to ``rows.csv`` as they arrive, exactly like the local engine.

Paths must be visible under the same name on every node (a shared file system), as
for any Ray job reading local files.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Iterable

import numpy as np

from .jobs import Outcome, SegmentOptions, model_id, pending, remove_stale_temps, segment_files

__all__ = ["ray_segment", "ray_benchmark_tasks", "require_ray"]

#: a segmentation actor that dies (a pre-empted node, the OOM killer, a decoder's crash) is
#: restarted and its task retried this many times, then the files left fail by name (Ray
#: Data's default, for ever, hung a run on a file that crashed every worker that read it;
#: tests/test_distributed.py kills one, and kills every one)
RESTARTS = 3


def require_ray():
    """Import Ray (with Ray Data) or raise a ModuleNotFoundError that says how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ModuleNotFoundError("the Ray engine needs Ray: pip install -r requirements-ray.txt (or 'ray[data]>=2.40'; in lnsnet's checkout: pip install '.[ray]')") from None
    return ray


#: the start of an HTTP/2 connection (its preface and an empty SETTINGS frame): Ray's head
#: (its GCS, a gRPC server) answers with a SETTINGS frame of its own
_HTTP2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def _check_reachable(address: str | None, timeout: float = 10.0) -> None:
    """A ``host:port`` address answers a TCP connection within ``timeout`` seconds, and as
    Ray's head does (an HTTP/2 SETTINGS frame; not checked with ``RAY_USE_TLS``), or a
    ``ValueError`` says so: Ray itself retries an unreachable head, or another service's
    port, for minutes."""
    import socket

    if not address or address == "auto" or "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host  # [IPv6]:port
    if ":" in host and not address.startswith("["):
        return  # a bare IPv6 address without a port: Ray says what it makes of it
    try:
        conn = socket.create_connection((host, int(port)), timeout=timeout)
    except ValueError:
        return  # not a port: Ray says what it makes of it
    except OSError as exc:
        raise ValueError(f"--address {address}: no Ray cluster answers there ({exc.strerror or exc}); start one "
                         "with `ray start --head` on that machine, or leave --address out to run Ray here") from None
    answer = b""
    with conn:
        if os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true"):
            return  # a TLS head answers only a TLS handshake
        try:
            conn.sendall(_HTTP2_HELLO)
            while len(answer) < 9:
                chunk = conn.recv(9 - len(answer))
                if not chunk:
                    break
                answer += chunk
        except OSError:
            pass
    if len(answer) < 9 or answer[3] != 4:
        raise ValueError(f"--address {address}: the service there is not a Ray cluster's head (it does not answer as "
                         "Ray's GCS does); pass the address `ray start --head` prints (HOST:6379 by default), or leave "
                         "--address out to run Ray here")


def _init(address: str | None):
    ray = require_ray()
    _check_reachable(address)
    if not ray.is_initialized():
        import signal
        import threading

        main = threading.current_thread() is threading.main_thread()
        term = signal.getsignal(signal.SIGTERM) if main else None
        try:
            ray.init(address=address, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
        except ConnectionError as exc:  # e.g. a head that asks for a token this process does not send
            why = " ".join(f"{exc}: {exc.__cause__ or ''}".split()).rstrip(": ")
            raise ValueError(f"--address {address}: {why[:300]} (a cluster started with token authentication needs "
                             "RAY_AUTH_MODE=token and its token here too)") from None
        if main and callable(term):  # ray.init puts its own SIGTERM handler (a crash dump, exit 15) over the
            signal.signal(signal.SIGTERM, term)  # caller's: `lnsnet segment` stops as on Ctrl-C, outputs whole
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    import logging

    logging.getLogger("ray.data").setLevel(logging.ERROR)  # lnsnet has its own progress and messages
    return ray


def _pool_size(ray, workers: int | None, cpus_per_worker: float, gpus_per_worker: float) -> int:
    if workers:
        return int(workers)
    res = ray.cluster_resources()
    if gpus_per_worker > 0:
        return max(1, int(res.get("GPU", 0) / gpus_per_worker))
    return max(1, int(res.get("CPU", 1) / cpus_per_worker))


class _Segmenter:
    """Ray Data actor: loads the model once, then segments batches of files."""

    def __init__(self, out_dir: str, opts: SegmentOptions, model, threads: int | None):
        from .jobs import load_segment_model

        self.threads = threads
        self.out = Path(out_dir)
        self.opts = opts
        self.model = load_segment_model(model, opts)

    def __call__(self, batch: dict) -> dict:
        from .runtime import set_threads

        if self.threads:  # here, not in __init__: Ray Data calls from another thread, and
            set_threads(self.threads)  # numba's thread count belongs to the calling thread
        files = [Path(str(p)) for p in batch["path"]]
        res = segment_files(files, self.out, self.model, self.opts)
        return {
            "file": np.array([o.file for o in res], dtype=object),
            "status": np.array([o.status for o in res], dtype=object),
            "message": np.array([o.message for o in res], dtype=object),
            "k": np.array([o.k for o in res], dtype=np.int64),
            "seconds": np.array([o.seconds for o in res], dtype=np.float64),
            "reused": np.array([o.reused for o in res], dtype=bool),
        }


def ray_segment(files: Iterable[Path], out_dir: Path, opts: SegmentOptions, *, model=None,
                address: str | None = None, num_gpus: float = 0.0, num_workers: int | None = None,
                threads: int | None = None, progress: bool = True) -> list[Outcome]:
    """Segment ``files`` into ``out_dir`` on Ray; the outcome of every file, in input order.

    ``address``: a Ray cluster (``"auto"``, ``"ray://host:10001"``); default: the running
    Ray session or a new local one. ``num_gpus``: GPUs per actor (> 0 runs the network on
    the GPU, ``device="cuda"``). ``num_workers``: actors (default: one per GPU, or one per
    ``threads`` CPUs, ``threads`` defaulting to 2). The model (shipped name or file) is
    loaded by every actor; a model file must be reachable from every node.
    """
    files = [Path(f) for f in files]
    if opts.model_id is None and (model is None or isinstance(model, (str, Path))):  # recorded as the CLI does
        opts = replace(opts, model_id="none" if model is None and opts.volume else model_id(model))
    todo, outcomes = pending(files, out_dir, opts)
    if not todo:
        return outcomes
    if num_gpus and num_gpus > 0 and opts.device in (None, "cpu"):
        opts = SegmentOptions(**{**opts.__dict__, "device": "cuda"})
    threads = threads or 2
    ray = _init(address)
    gpus = ray.cluster_resources().get("GPU", 0)
    if num_gpus and gpus < num_gpus:  # an autoscaling cluster may add them
        import sys

        print(f"warning: --num-gpus {num_gpus:g}: the Ray cluster has {gpus:g} GPU(s) "
              "now; the actors wait until GPU nodes join (an autoscaling cluster), or for ever", file=sys.stderr,
              flush=True)
    # one actor per `threads` CPUs, or one per GPU
    size = min(len(todo), _pool_size(ray, num_workers, threads, num_gpus or 0.0))
    by_path = {str(f.resolve()): f for f in todo}
    n = len(by_path)  # blocks: at least one per actor, at most one per file
    blocks = min(n, max(size, -(-n // max(1, opts.batch_size))))
    ds = ray.data.from_items([{"path": p} for p in by_path], override_num_blocks=blocks)
    import warnings

    with warnings.catch_warnings():  # the actors' restarts have no named parameter in Ray 2.60 (pinned)
        warnings.filterwarnings("ignore", message=".*ray_remote_args.* is deprecated")
        ds = ds.map_batches(
            _Segmenter,
            fn_constructor_args=(str(Path(out_dir).resolve()), opts, model, threads),
            batch_size=opts.batch_size,
            compute=ray.data.ActorPoolStrategy(size=size),
            num_cpus=0 if num_gpus else 1,
            num_gpus=num_gpus or 0,
            max_restarts=RESTARTS,
            max_task_retries=RESTARTS,
        )
    from tqdm.auto import tqdm

    bar = tqdm(total=len(files), unit="img", desc="lnsnet segment (ray)", dynamic_ncols=True,
               disable=not progress or len(files) < 2)
    bar.update(len(outcomes))
    done: dict[str, Outcome] = {}
    lost = "no result came back from the Ray workers"  # (unless a worker died again and again: below)
    try:
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            for i in range(len(batch["file"])):
                f = by_path.get(str(Path(str(batch["file"][i])).resolve()), Path(str(batch["file"][i])))
                done[str(f)] = Outcome(str(f), str(batch["status"][i]), str(batch["message"][i]),
                                       int(batch["k"][i]), float(batch["seconds"][i]),
                                       reused="reused" in batch and bool(batch["reused"][i]))  # (older nodes: none)
                bar.update(1)
    except ray.exceptions.RayError as exc:  # the files done keep their outputs; the others fail by name
        why = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).split())
        why = why if len(why) <= 400 else "... " + why[-400:]  # the cause comes last
        lost = ("not segmented: the Ray workers stopped (one died and was restarted up to "
                f"{RESTARTS} times, or could not start: a crash in a decoder, out of memory, a lost node, a model "
                f"missing on a node?); rerun to redo these, or use --engine local to find a file at fault ({why})")
    bar.close()
    for f in todo:
        if str(f) not in done:
            done[str(f)] = Outcome(str(f), "failed", f"{f}: {lost}")
    # a worker killed mid-write (a pre-empted node) leaves its temporary file: every worker of
    # this run is done, so those of its files go now; older ones of other files as the local engine
    remove_stale_temps(todo, Path(out_dir), opts, min_age=0)
    remove_stale_temps(set(files) - set(todo), Path(out_dir), opts)
    outcomes += [done[str(f)] for f in todo]
    order = {str(f): i for i, f in enumerate(files)}
    return sorted(outcomes, key=lambda o: order.get(o.file, len(order)))


class _BenchWorker:
    """Ray Data actor for the benchmark: the methods set up once, one thread."""

    def __init__(self, ds, methods, model, r, warmup, custom=None):
        from .eval.methods import MethodRunner
        from .runtime import set_threads

        set_threads(1)
        self.runner = MethodRunner(ds, methods, model, r, warmup, custom)

    def __call__(self, batch: dict) -> dict:
        from .runtime import set_threads

        set_threads(1)  # in the calling thread: Ray Data calls from another one than __init__'s
        out = []
        for index, todo in zip(batch["index"], batch["todo"]):
            rows = self.runner.run(int(index), [(m, int(k)) for m, k in json.loads(str(todo))])
            out.append(json.dumps(rows))
        return {"rows": np.array(out, dtype=object)}


def ray_benchmark_tasks(ds, tasks, methods, model, r, warmup, on_rows, *, address=None,
                        workers: int | None = None, custom=None) -> None:
    """Run benchmark ``tasks`` (``[(image index, [(method, K), ...]), ...]``) on Ray,
    calling ``on_rows(rows)`` in the driver as each image's rows arrive."""
    ray = _init(address)
    size = min(len(tasks), _pool_size(ray, workers, 1, 0.0))
    items = [{"index": int(i), "todo": json.dumps([[m, int(k)] for m, k in todo])} for i, todo in tasks]
    data = ray.data.from_items(items, override_num_blocks=len(items))
    data = data.map_batches(
        _BenchWorker,
        fn_constructor_args=(ds, methods, model, r, warmup, custom),
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=size),
        num_cpus=1,
    )
    for batch in data.iter_batches(batch_size=None, batch_format="numpy"):
        for rows in batch["rows"]:
            on_rows(json.loads(str(rows)))
