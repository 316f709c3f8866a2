"""lnsnet: superpixels with LNS-Net (Zhu et al., CVPR 2021), trained without labels, for life.

Public API::

    labels = lnsnet.segment(image, n_segments=200)       # int32 HxW, 0..k-1, connected
    labels = lnsnet.segment(image, 200, clustering="paper")  # or lnsnet.ClusterOptions(...)
    model = lnsnet.load_model("bsds500")                  # the shipped model
    lnsnet.train_stream("my_images/", "my_model.pt")      # lifelong training, resumable
"""

from .cluster import PRESETS, ClusterOptions
from .hub import available_models, load_model
from .inference import segment
from .model import LNSNet, ModelConfig
from .train import TrainConfig, train_stream

__version__ = "0.1.0"

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
    "__version__",
]
