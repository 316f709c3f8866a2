"""The Ray engine, with Ray running on this machine (``ray.init(num_cpus=2)``): the same
files as the local engine byte for byte, failures reported, reruns skipping, a killed
worker neither losing nor duplicating outputs, and the same benchmark summary."""

import csv
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ray = pytest.importorskip("ray", reason="the Ray engine tests need lnsnet[ray] (requirements-test.txt has it)")

from lnsnet.cli import main  # noqa: E402
from lnsnet.distributed import ray_segment  # noqa: E402
from lnsnet.jobs import SegmentOptions  # noqa: E402
from lnsnet.runtime import restore_threads, set_threads  # noqa: E402

def _segmenter_pids() -> set[int]:
    """The processes running a segmentation actor: Ray writes the actor's class into the
    process title (``ray::MapWorker(MapBatches(_Segmenter))...``)."""
    pids = set()
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if b"_Segmenter" in (d / "cmdline").read_bytes():
                    pids.add(int(d.name))
            except OSError:
                continue
    return pids


@pytest.fixture(scope="module")
def ray_session():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield
    ray.shutdown()


def _images(folder: Path, n: int, bad: bool = True, size=(48, 64)) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        h, w = size if i % 3 else (40, 30)
        blocks = np.kron(rng.integers(0, 255, (4, 4, 3)), np.ones((h // 4 + 1, w // 4 + 1, 1)))[:h, :w]
        img = np.clip(blocks + rng.normal(0, 6, (h, w, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"im{i:02d}.png")
    if bad:
        (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return folder


def _tree(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_ray_engine_writes_the_local_engine_files_byte_for_byte(ray_session, tmp_path, capsys):
    src = _images(tmp_path / "in", 7)
    assert main(["segment", str(src), "-o", str(tmp_path / "local"), "-k", "12", "-q"]) == 2
    capsys.readouterr()
    # a temporary file left by a worker killed mid-write in an earlier run is cleared
    stem = sorted(p.stem for p in src.iterdir() if not p.name.startswith("broken"))[0]
    (tmp_path / "ray").mkdir()
    stale = tmp_path / "ray" / f".{stem}_labels.png.k1ll3d.tmp"
    stale.write_bytes(b"half a png")
    old = stale.stat().st_mtime - 3600  # an hour untouched: a killed writer's, not a run's in progress
    os.utime(stale, (old, old))
    rc = main(["segment", str(src), "-o", str(tmp_path / "ray"), "-k", "12", "-q", "--engine", "ray",
               "--batch-size", "3"])
    assert not stale.exists()
    err = capsys.readouterr().err
    assert rc == 2  # the broken file fails ...
    assert "broken.png" in err and err.count("error:") == 1  # ... reported once, by name
    local, distributed = _tree(tmp_path / "local"), _tree(tmp_path / "ray")
    # labels .npy/.png, overlay and the provenance .json for each good image, and the failures' list
    assert len(local) == 7 * 4 + 1 and b"broken.png\tcannot read image" in local["failures.tsv"]
    assert local.keys() == distributed.keys()
    for name in local:
        assert local[name] == distributed[name], name
    # a rerun skips every finished file and redoes nothing
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "ray").iterdir()}
    rc = main(["segment", str(src), "-o", str(tmp_path / "ray"), "-k", "12", "--engine", "ray"])
    err = capsys.readouterr().err
    assert "done: 0, failed: 1, skipped: 7" in err
    assert before == {p: p.stat().st_mtime_ns for p in (tmp_path / "ray").iterdir()}


def test_a_killed_worker_loses_and_duplicates_nothing(ray_session, tmp_path):
    src = _images(tmp_path / "in", 16, bad=False, size=(240, 320))  # ~0.1 s each: time to kill
    files = sorted(src.iterdir())
    opts = SegmentOptions(n_segments=10, batch_size=1, model_id="bsds500")  # as the CLI records it
    result = {}
    thread = threading.Thread(target=lambda: result.update(out=ray_segment(files, tmp_path / "out", opts,
                                                                           progress=False)))
    thread.start()
    killed = None
    deadline = time.time() + 120
    while killed is None and time.time() < deadline and thread.is_alive():
        pids = _segmenter_pids()
        if pids and any((tmp_path / "out").glob("*_overlay.png")):
            killed = min(pids)
            os.kill(killed, signal.SIGKILL)
            seen = set()
        time.sleep(0.05)
    while killed is not None and thread.is_alive() and not seen:  # the pool restarts the killed actor
        seen = _segmenter_pids() - {killed}
        time.sleep(0.05)
    thread.join(300)
    assert killed is not None, "the run finished before a worker could be killed"
    assert not thread.is_alive()
    outcomes = result["out"]
    assert [o.status for o in outcomes] == ["done"] * 16
    assert len({o.file for o in outcomes}) == 16
    assert seen, "no segmentation actor ran after the kill"
    out = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert len(out) == 16 * 4 and not any(n.endswith(".tmp") for n in out)
    # every output equals the local engine's at the same batch size and thread count (the
    # actors' 2; a batch of several images of one shape, or another thread count, sums the
    # network's products in another order and may move a near-tie pixel)
    before = set_threads(2)
    try:
        assert main(["segment", str(src), "-o", str(tmp_path / "local"), "-k", "10", "-q", "--batch-size", "1"]) == 0
    finally:
        restore_threads(before)
    assert _tree(tmp_path / "out") == _tree(tmp_path / "local")


def _benchmark_data(root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    rng = np.random.default_rng(1)
    for i in range(3):
        lab = np.zeros((32, 40), np.int32)
        lab[:, 20 + i:] = 1
        lab[16:, : 13 + i] = 2
        img = np.array([[200, 30, 30], [30, 180, 60], [40, 60, 220]], float)[lab] + rng.normal(0, 3, (32, 40, 3))
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(root / "images" / f"img{i}.png")
        np.save(root / "labels" / f"img{i}.npy", lab[None])
    return root


def test_benchmark_on_ray_gives_the_local_summary(ray_session, tmp_path):
    from lnsnet.eval.benchmark import run_benchmark

    data = _benchmark_data(tmp_path / "data")
    kw = dict(methods="slic,lnsnet", ks=[10, 20], progress=False)
    # one worker process with one thread, as each Ray actor has
    local = run_benchmark(str(data), out_dir=tmp_path / "local", workers=1, **kw)
    dist = run_benchmark(str(data), out_dir=tmp_path / "ray", engine="ray", **kw)
    assert len(local) == len(dist) == 4
    for a, b in zip(local, dist):
        for key in a:
            if "time" not in key:
                assert a[key] == b[key], (key, a, b)
    with open(tmp_path / "ray" / "rows.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 * 2 * 2 and len({(r["method"], r["k_asked"], r["image"]) for r in rows}) == 12
    # resumed: nothing left to compute
    again = run_benchmark(str(data), out_dir=tmp_path / "ray", engine="ray", **kw)
    assert again == dist


def test_ray_engine_options_need_ray_engine(tmp_path, capsys):
    src = _images(tmp_path / "in", 1, bad=False)
    assert main(["segment", str(src), "-o", str(tmp_path / "o"), "--address", "auto"]) == 2
    assert "--engine ray" in capsys.readouterr().err
    assert main(["benchmark", "--dataset", str(src), "-o", str(tmp_path / "b"), "--address", "auto"]) == 2
    assert "--engine ray" in capsys.readouterr().err
    assert main(["segment", str(src), "-o", str(tmp_path / "o"), "--engine", "ray", "--num-gpus", "-1"]) == 2
    assert "--num-gpus must be >= 0" in capsys.readouterr().err


def test_actors_on_every_cpu_and_volumes(ray_session, tmp_path, capsys):
    """One actor per CPU (threads 1; the read tasks of Ray Data found no CPU left, and the run
    waited for ever); volumes with the 3-D path (the actors loaded the 2-D model); a model
    that does not exist refused in one line before Ray starts."""
    src = _images(tmp_path / "in", 5, bad=False)
    opts = SegmentOptions(n_segments=8)
    def waited_too_long(*_):
        raise TimeoutError("the Ray run waited for a CPU for ever")

    previous = signal.signal(signal.SIGALRM, waited_too_long)
    signal.alarm(180)
    try:
        res = ray_segment(sorted(src.iterdir()), tmp_path / "ray", opts, num_workers=2, threads=1, progress=False)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert [o.status for o in res] == ["done"] * 5
    assert main(["segment", str(src), "-k", "8", "-o", str(tmp_path / "local"), "-q"]) == 0
    for p in (tmp_path / "local").glob("*_labels.npy"):
        assert np.array_equal(np.load(p), np.load(tmp_path / "ray" / p.name))
    capsys.readouterr()  # the API's run records the model as the CLI does: the CLI skips its files
    assert main(["segment", str(src), "-k", "8", "-o", str(tmp_path / "ray")]) == 0
    assert "done: 0, failed: 0, skipped: 5" in capsys.readouterr().err
    vols = tmp_path / "vols"
    vols.mkdir()
    rng = np.random.default_rng(0)
    np.save(vols / "v.npy", (np.kron(rng.random((2, 2, 2)), np.ones((6, 8, 8))) * 200 + rng.random((12, 16, 16)) * 20).astype(np.uint8))
    for engine, out in (("local", "vl"), ("ray", "vr")):
        assert main(["segment", str(vols), "-k", "8", "-o", str(tmp_path / out), "--volume", "--engine", engine, "-q"]) == 0
    assert np.array_equal(np.load(tmp_path / "vl" / "v_labels.npy"), np.load(tmp_path / "vr" / "v_labels.npy"))
    capsys.readouterr()
    assert main(["segment", str(src), "-o", str(tmp_path / "m"), "--engine", "ray", "-m", "nosuch.pt"]) == 2
    err = capsys.readouterr().err
    assert "no shipped model named 'nosuch.pt'" in err and "Traceback" not in err and not (tmp_path / "m").exists()


def test_ray_keeps_the_callers_sigterm_handler():
    """ray.init put its own SIGTERM handler over lnsnet segment's: `kill PID` of a Ray run gave a
    crash dump and exit 15 (and once a half-written output) instead of 'interrupted' and exit 130."""
    import subprocess
    import sys

    code = ("import signal, ray\n"
            "def mine(signum, frame): pass\n"
            "signal.signal(signal.SIGTERM, mine)\n"
            "from lnsnet.distributed import _init\n"
            "_init(None)\n"
            "print(signal.getsignal(signal.SIGTERM) is mine)\n"
            "ray.shutdown()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "True"


def test_a_worker_that_dies_every_time_fails_its_files_by_name_and_does_not_hang(ray_session, tmp_path):
    """A file that crashes every worker that reads it (a decoder's segfault, the OOM killer)
    hung the run: Ray Data restarted the actor and retried the task for ever. Now, after
    RESTARTS restarts, the files not segmented fail, each named, and the run ends."""
    from lnsnet.distributed import RESTARTS

    src = _images(tmp_path / "in", 6, bad=False, size=(240, 320))
    files = sorted(src.iterdir())
    opts = SegmentOptions(n_segments=10, batch_size=1, model_id="bsds500")
    result = {}
    thread = threading.Thread(target=lambda: result.update(out=ray_segment(files, tmp_path / "out", opts,
                                                                           progress=False)))
    thread.start()
    killed = set()
    deadline = time.time() + 240
    while thread.is_alive() and time.time() < deadline:  # every segmentation actor dies as it starts
        for pid in _segmenter_pids() - killed:
            os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        time.sleep(0.02)
    thread.join(60)
    assert not thread.is_alive(), "the run hung"
    assert len(killed) >= RESTARTS + 1
    failed = [o for o in result["out"] if o.status == "failed"]
    assert failed and all("the Ray workers stopped" in o.message and o.file in o.message for o in failed)
    assert len(result["out"]) == 6 and len({o.file for o in result["out"]}) == 6


def test_an_address_where_no_cluster_answers_is_refused_at_once(tmp_path, capsys):
    """--address HOST:PORT with nothing listening there hung for many minutes (Ray retries
    its connection to the head); now one error line, at once."""
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.time()
    src = _images(tmp_path / "in", 1, bad=False)
    assert main(["segment", str(src), "-o", str(tmp_path / "out"), "--engine", "ray", "--address",
                 f"127.0.0.1:{port}", "-q"]) == 2
    assert f"127.0.0.1:{port}: no Ray cluster answers there" in capsys.readouterr().err
    assert time.time() - t0 < 60


@pytest.mark.parametrize("reply", [b"HTTP/1.0 400 Bad request\r\n\r\n", b""])
def test_an_address_of_another_service_is_refused_at_once(reply):
    """A port that answers but not as Ray's head (a web server, one that says nothing and
    closes) was waited on for minutes; a head that answers HTTP/2 passes."""
    import socket
    import threading

    from lnsnet.distributed import _check_reachable

    def serve(answer):
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)

        def run():
            conn, _ = srv.accept()
            with conn:
                conn.recv(64)
                conn.sendall(answer)
            srv.close()

        threading.Thread(target=run, daemon=True).start()
        return f"127.0.0.1:{srv.getsockname()[1]}"

    t0 = time.time()
    with pytest.raises(ValueError, match="not a Ray cluster's head"):
        _check_reachable(serve(reply), timeout=5)
    assert time.time() - t0 < 10
    _check_reachable(serve(b"\x00\x00\x18\x04\x00\x00\x00\x00\x00" + b"\x00" * 24), timeout=5)  # a SETTINGS frame


def test_a_head_that_refuses_the_connection_is_named_with_its_cause(monkeypatch):
    """ray.init's ConnectionError says only "Failed to connect"; its cause (a head with
    token authentication: InvalidAuthToken) and the setting it needs are in the message."""
    import ray

    from lnsnet import distributed

    def refuse(**kwargs):
        try:
            raise RuntimeError("InvalidAuthToken: no token")
        except RuntimeError as e:
            raise ConnectionError("Failed to connect to Ray cluster at 10.0.0.1:6390") from e

    monkeypatch.setattr(distributed, "_check_reachable", lambda address: None)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", refuse)
    with pytest.raises(ValueError, match="6390: Failed to connect .*InvalidAuthToken.*RAY_AUTH_MODE=token"):
        distributed._init("10.0.0.1:6390")
