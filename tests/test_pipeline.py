"""What a data pipeline around lnsnet.segment counts on: the host's torch settings
(autocast, default dtype, random numbers, its model's mode) neither change the labels nor
are changed by them, and the numba kernels follow torch's thread count."""

import numpy as np
import pytest
import torch

import lnsnet
from conftest import blocks_image


def _image():
    rng = np.random.default_rng(0)
    return np.clip(blocks_image() * 255 + rng.normal(0, 8, (48, 64, 3)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("clustering", ["fast", "compact", "paper"])
def test_host_torch_settings_do_not_change_the_labels(clustering):
    im = _image()
    ref = lnsnet.segment(im, 12, clustering=clustering)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert np.array_equal(lnsnet.segment(im, 12, clustering=clustering), ref)
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        assert np.array_equal(lnsnet.segment(im, 12, clustering=clustering), ref)
        assert torch.get_default_dtype() == torch.float64  # put back
    finally:
        torch.set_default_dtype(before)


def test_the_callers_model_and_random_numbers_are_left_alone():
    im = _image()
    model = lnsnet.load_model("bsds500")
    model.train()
    torch.manual_seed(0)
    want = torch.rand(3)
    torch.manual_seed(0)
    labels = lnsnet.segment(im, 12, model=model)
    assert torch.equal(torch.rand(3), want)  # no random number drawn from the host's generator
    assert model.training  # not switched to eval
    assert np.array_equal(labels, lnsnet.segment(im, 12))
    torch.manual_seed(0)
    lnsnet.segment(im, 12, model="untrained")  # built, with its own fixed seed
    assert torch.equal(torch.rand(3), want)


def test_numba_follows_torchs_threads():
    import numba

    from lnsnet.runtime import numba_follows_torch

    before_torch, before_numba = torch.get_num_threads(), numba.get_num_threads()
    try:
        torch.set_num_threads(1)
        with numba_follows_torch():
            assert numba.get_num_threads() == 1
        assert numba.get_num_threads() == before_numba  # put back
    finally:
        torch.set_num_threads(before_torch)


def test_tensors_and_pil_images_are_refused_with_what_to_pass():
    from PIL import Image

    with pytest.raises(TypeError, match=r"tensor.cpu\(\).numpy\(\)"):
        lnsnet.segment(torch.rand(3, 20, 20), 4)
    with pytest.raises(TypeError, match=r"np.asarray\(image\)"):
        lnsnet.segment(Image.new("RGB", (20, 20)), 4)


def test_a_model_file_is_read_once_while_it_is_unchanged(tmp_path, monkeypatch):
    import os

    from lnsnet import checkpoint

    path = tmp_path / "m.pt"
    checkpoint.save(path, lnsnet.load_model("bsds500"))
    reads = []
    real = checkpoint.load
    monkeypatch.setattr(checkpoint, "load", lambda p, *a, **k: reads.append(p) or real(p, *a, **k))
    im = _image()
    a = lnsnet.segment(im, 12, model=str(path))
    b = lnsnet.segment(im, 12, model=str(path))
    assert np.array_equal(a, b) and np.array_equal(a, lnsnet.segment(im, 12)) and len(reads) == 1
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # the file changed: read again
    lnsnet.segment(im, 12, model=str(path))
    assert len(reads) == 2


def _child_labels(i):  # runs in a pool's worker
    im = _image() if i < 3 else None
    if im is not None:
        return lnsnet.segment(np.roll(im, 7 * i, axis=1), 12, clustering=("fast", "compact", "paper")[i])
    vol = np.random.default_rng(1).random((10, 12, 14)).astype(np.float32)
    return lnsnet.segment(vol, 20, channel_axis=None)


@pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(), reason="no fork on this OS")
def test_workers_forked_after_segmenting_give_the_parents_labels():
    """Linux's default start method after the parent has run the kernels and the network (GNU
    OpenMP started): the children crashed ("fork() called from a process already using GNU
    OpenMP") or hung; now they run the kernels' serial twins and torch on one thread."""
    import multiprocessing as mp

    want = [_child_labels(i) for i in range(4)]  # the parent segments first
    with mp.get_context("fork").Pool(2) as pool:
        got = pool.map_async(_child_labels, range(4)).get(timeout=120)  # a hang fails, not blocks
    for w, g in zip(want, got):
        assert np.array_equal(w, g)


def test_a_parallel_kernels_serial_twin_computes_the_same_under_its_own_name():
    import numba

    from lnsnet.runtime import parallel_kernel, serial_twin

    def cumulate(a, out):
        for i in numba.prange(a.shape[0]):
            s = 0.0
            for j in range(a.shape[1]):
                s += a[i, j] * (j + 1)
            out[i] = s

    par = parallel_kernel(fastmath=False)(cumulate)
    ser = serial_twin(cumulate, {"fastmath": False})
    a = np.arange(12.0).reshape(3, 4)
    got_par, got_ser = np.empty(3), np.empty(3)
    par(a, got_par)
    ser(a, got_ser)
    np.testing.assert_array_equal(got_par, [20.0, 60.0, 100.0])  # sum_j (4i + j)(j + 1)
    np.testing.assert_array_equal(got_ser, got_par)
    assert par.targetoptions.get("parallel") and not ser.targetoptions.get("parallel")
    assert ser.py_func.__qualname__ == cumulate.__qualname__ + "_serial"  # its own files in numba's cache


@pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(), reason="no fork on this OS")
def test_workers_forked_after_only_setting_threads_segment():
    """Setting the threads starts numba's threading layer without running a kernel: a child
    forked after it was terminated on its first kernel too."""
    import subprocess
    import sys

    code = ("import multiprocessing as mp, numpy as np, lnsnet, lnsnet.runtime\n"
            "im = (np.random.default_rng(0).random((40, 50, 3)) * 255).astype(np.uint8)\n"
            "def work(i):\n    return int(lnsnet.segment(im, 12).max())\n"
            "if __name__ == '__main__':\n"
            "    lnsnet.runtime.set_threads(2)\n"
            "    with mp.get_context('fork').Pool(2) as p:\n"
            "        got = p.map_async(work, range(2)).get(timeout=120)\n"
            "    print(got == [int(lnsnet.segment(im, 12).max())] * 2)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.stdout.strip() == "True", run.stderr[-2000:]


def test_float64_hosts_calls_in_threads_overlap_safely():
    """Two calls inside at once in a host whose default dtype is float64: the first one out
    left float64 set while the other was still inside (which then raised "Input type
    (double) and bias type (float)" or gave other labels). Now float32 holds until the last
    one is out, and float64 comes back then."""
    from concurrent.futures import ThreadPoolExecutor

    from lnsnet.inference import float32_default

    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        a, b = float32_default(), float32_default()
        a.__enter__()
        b.__enter__()
        a.__exit__(None, None, None)  # a leaves first
        assert torch.get_default_dtype() == torch.float32  # b is still inside
        b.__exit__(None, None, None)
        assert torch.get_default_dtype() == torch.float64
        img = blocks_image(48, 64)
        ref = lnsnet.segment(img, 20, clustering="paper")
        with ThreadPoolExecutor(4) as ex:
            got = list(ex.map(lambda _: lnsnet.segment(img, 20, clustering="paper"), range(24)))
        assert all(np.array_equal(g, ref) for g in got)
        assert torch.get_default_dtype() == torch.float64
    finally:
        torch.set_default_dtype(before)


def test_the_package_says_it_is_typed():
    """py.typed ships (type checkers read lnsnet's hints), and segment's signature and
    return type come through its decorator."""
    import importlib.resources
    import inspect

    assert (importlib.resources.files("lnsnet") / "py.typed").is_file()
    sig = inspect.signature(lnsnet.segment)
    assert list(sig.parameters)[:2] == ["image", "n_segments"] and sig.return_annotation != inspect.Signature.empty
