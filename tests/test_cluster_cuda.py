"""The compact clustering's CUDA kernels (lnsnet.cluster.cuda): by hand and against the
torch steps they replace, under numba's CUDA simulator (tests/cuda_sim_checks.py, in a
subprocess: the simulator is chosen when numba.cuda is first imported)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lnsnet.cluster import cuda as ck


def test_kernels_under_the_cuda_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    script = Path(__file__).parent / "cuda_sim_checks.py"
    r = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stdout[-2000:] + r.stderr[-4000:]


def test_cpu_tensors_never_take_the_kernels_by_default(monkeypatch):
    # the kernels are for CUDA devices: on the CPU the torch steps run unless asked
    import numpy as np

    from lnsnet.cluster import ClusterOptions
    from lnsnet.cluster.gpu import cluster_local_torch
    from lnsnet.grid import make_grid

    monkeypatch.setattr(ck, "assign", lambda *a, **k: (_ for _ in ()).throw(AssertionError("kernel used")))
    rng = np.random.default_rng(0)
    z = torch.from_numpy(rng.random((3, 20, 24), dtype=np.float32))
    grid = make_grid(20, 24, 6)
    pos = grid.centres()
    sf = z[:, pos[:, 0].long(), pos[:, 1].long()].t().contiguous()
    lab = cluster_local_torch(z, z, grid, sf, pos, ClusterOptions.parse("compact:input_weight=0"))
    assert lab.shape == (20, 24) and lab.min() >= 0 and lab.max() < grid.n_seeds


def test_a_broken_cuda_target_falls_back_to_the_torch_steps_once(monkeypatch):
    from lnsnet.cluster import gpu

    calls = []

    def broken(device):
        calls.append(device)
        raise RuntimeError("no NVVM")

    monkeypatch.setattr(ck, "available", lambda: True)
    monkeypatch.setattr(ck, "warm", broken)
    monkeypatch.setattr(gpu, "_KERNELS_FAILED", [])
    cuda = torch.device("cuda", 0)  # a device object only: nothing runs on it
    with pytest.warns(RuntimeWarning, match="do not run here"):
        assert gpu.use_kernels(cuda) is False
    assert gpu.use_kernels(cuda) is False and len(calls) == 1  # not tried again
    assert gpu._KERNELS_FAILED and "no NVVM" in gpu._KERNELS_FAILED[0]
    assert gpu.use_kernels(torch.device("cpu")) is False


def test_running_out_of_gpu_memory_is_not_taken_for_a_broken_target(monkeypatch):
    from lnsnet.cluster import gpu

    def oom(device):
        raise torch.cuda.OutOfMemoryError("out of memory")

    monkeypatch.setattr(ck, "available", lambda: True)
    monkeypatch.setattr(ck, "warm", oom)
    monkeypatch.setattr(gpu, "_KERNELS_FAILED", [])
    with pytest.raises(torch.cuda.OutOfMemoryError):
        gpu.use_kernels(torch.device("cuda", 0))
    assert gpu._KERNELS_FAILED == []
    monkeypatch.setattr(ck, "warm", lambda device: None)
    assert gpu.use_kernels(torch.device("cuda", 0)) is True


def test_images_beyond_the_kernels_grid_take_the_other_path(monkeypatch):
    # CUDA allows 65,535 blocks along y and z: 8 rows a block, one image a block along z
    from lnsnet.cluster import ClusterOptions, gpu
    from lnsnet.inference import device_connectivity

    assert ck.fits(1, 8 * 65535) and not ck.fits(1, 8 * 65535 + 1)
    assert ck.fits(65535, 10) and not ck.fits(65536, 10)
    monkeypatch.setattr(gpu, "use_kernels", lambda device: True)
    post = dict(connect=True, max_size_factor=None, start_label=1)
    cuda = torch.device("cuda", 0)  # a device object only: nothing runs on it
    opts = ClusterOptions.parse("compact")
    assert device_connectivity(cuda, opts, post, (8, 481))
    assert not device_connectivity(cuda, opts, post, (1, 600_000))
    # the encoding too: a 600,000-row image takes the torch operations even when the
    # kernels are asked for (here no CUDA kernel could run: a launch would fail)
    import numpy as np

    from lnsnet.prepare import encode_on, prepare

    tall = np.zeros((600_000, 2, 3), np.uint8)
    tall[::2] = 200
    x, _ = encode_on([prepare(tall, defer=True)], torch.device("cpu"), kernels=True)
    assert x.shape == (1, 5, 600_000, 2) and float(x[0, 0].abs().max()) > 0
