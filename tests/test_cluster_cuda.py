"""The compact clustering's CUDA kernels (lnsnet.cluster.cuda): by hand and against the
torch steps they replace, under numba's CUDA simulator (tests/cuda_sim_checks.py, in a
subprocess: the simulator is chosen when numba.cuda is first imported)."""

import os
import subprocess
import sys
from pathlib import Path

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
