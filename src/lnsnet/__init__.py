"""lnsnet: superpixels with LNS-Net (Zhu et al., CVPR 2021), trained without labels, for life.

Public API::

    labels = lnsnet.segment(image, n_segments=200)       # int32 HxW, 0..k-1, connected
    model = lnsnet.load_model("bsds500")                  # the shipped model
    lnsnet.train_stream("my_images/", "my_model.pt")      # lifelong training, resumable
"""

from .model import LNSNet, ModelConfig
from .segment import CLUSTERINGS, COMPACT_CLUSTERING, PAPER_CLUSTERING, available_models, load_model, segment
from .train import TrainConfig, train_stream

__version__ = "0.1.0"

__all__ = [
    "segment",
    "load_model",
    "available_models",
    "PAPER_CLUSTERING",
    "COMPACT_CLUSTERING",
    "CLUSTERINGS",
    "train_stream",
    "TrainConfig",
    "LNSNet",
    "ModelConfig",
    "__version__",
]
