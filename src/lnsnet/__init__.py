"""lnsnet: superpixels with LNS-Net (Zhu et al., CVPR 2021), trained without labels, for life.

Public API::

    labels = lnsnet.segment(image, n_segments=200)       # int32 HxW, connected superpixels
    labels = lnsnet.segment(image, 200, clustering="paper")  # or lnsnet.ClusterOptions(...)
    table = lnsnet.regions(image, labels)                 # per superpixel: area, centroid, box, mean
    model = lnsnet.load_model("bsds500")                  # the shipped model
    lnsnet.train_stream("my_images/", "my_model.pt")      # lifelong training, resumable

The names are imported on first use (``import lnsnet`` does not import torch or numba),
so that ``import lnsnet`` and ``lnsnet --help`` take a fraction of a second.
"""

import importlib
import os

# GNU OpenMP, the runtime of torch's CPU threads and of numba's "omp" layer, spins an idle
# thread for about 300,000 turns before it sleeps. Beside other busy processes that spinning
# takes the cores the work needs: with two busy processes on two cores the default took 6.5x
# scikit-image SLIC's time at K=100 spinning, 0.5x with the threads asleep at once (and on an
# idle machine 0.45x instead of 0.36x; `python benchmarks/contention.py`). Set before torch
# or numba load (read then); the user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
if "GOMP_SPINCOUNT" not in os.environ:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing

__version__ = "0.1.0"

# public name -> the module that defines it (imported on first access)
_LAZY = {
    "segment": "inference",
    "ClusterOptions": "cluster",
    "PRESETS": "cluster",
    "load_model": "hub",
    "available_models": "hub",
    "train_stream": "train",
    "TrainConfig": "train",
    "LNSNet": "model",
    "ModelConfig": "model",
    "regions": "measure",
}

__all__ = [
    "segment",
    "ClusterOptions",
    "PRESETS",
    "load_model",
    "available_models",
    "train_stream",
    "TrainConfig",
    "LNSNet",
    "ModelConfig",
    "regions",
    "__version__",
]

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names resolve lazily
    from .cluster import PRESETS, ClusterOptions
    from .hub import available_models, load_model
    from .inference import segment
    from .measure import regions
    from .model import LNSNet, ModelConfig
    from .train import TrainConfig, train_stream


#: the submodules a user reaches as ``lnsnet.io``, ``lnsnet.runtime`` ... without importing them
_SUBMODULES = ("errors", "io", "runtime", "measure", "eval", "volume", "flood", "train", "cluster", "model", "features", "prepare")


def __getattr__(name: str):
    if name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
        globals()[name] = value
        return value
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lnsnet' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later accesses skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted((set(globals()) - {"TYPE_CHECKING", "importlib"}) | set(__all__))
