"""The LNS-Net model: feature embedder + seed estimation + reconstruction head + GAL memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..dictconfig import DictConfig
from ..grid import Grid
from .contour import ContourHead
from .embedder import FeatureEmbedder
from .seeds import SeedEstimation, sample_features

__all__ = ["ModelConfig", "LNSNet"]


@dataclass
class ModelConfig(DictConfig):
    """Architecture hyper-parameters (Sec. 4.1 defaults)."""

    in_channels: int = 5
    c_m: int = 10
    c_1: int = 10
    c_2: int = 20
    dilations: Sequence[int] = field(default_factory=lambda: (1, 3, 5))
    seed_hidden: int = 20
    #: channels of the contour head (:class:`~lnsnet.model.contour.ContourHead`); 0: none.
    #: A model saved before the head existed has none.
    contour_width: int = 12

    _list_fields = ("dilations",)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        if "dilations" in d:
            d = {**d, "dilations": tuple(int(x) for x in d["dilations"])}
        return super().from_dict({"contour_width": 0, **d})


class LNSNet(nn.Module):
    """LNS-Net (Zhu et al., CVPR 2021).

    ``embed(x)``: ``(B, 5, H, W)`` -> features Z ``(B, C_2, H, W)`` (FEM).
    ``seed_positions(z, grid)``: -> ``(B, K, 2)`` seed positions (SEL).
    ``seed_features(z, pos)``: -> ``(B, K, C_2)`` features at the seeds (bilinear).
    ``reconstruct(z)``: -> ``(B, 5, H, W)`` reconstruction X^r (Eq. 8), training only.
    ``contours(colour)``: the clustering's colour ``(B, 3, H, W)`` -> contour map
    ``(B, 1, H, W)`` in [0, 1] (the contour head; None for a model without one).

    The buffer ``memory`` is the GAL memory vector m (Eq. 10), initialised to ones as in
    the paper; it is part of ``state_dict`` and so saved and restored with the model.
    """

    def __init__(self, config: ModelConfig | None = None, generator: torch.Generator | None = None):
        super().__init__()
        self.config = config or ModelConfig()
        c = self.config
        self.embedder = FeatureEmbedder(c.in_channels, c.c_m, c.c_1, c.c_2, c.dilations)
        self.seed_layer = SeedEstimation(c.c_2, c.seed_hidden)
        self.reconstruction = nn.Conv2d(c.c_2, c.in_channels, 1, bias=False)
        self.register_buffer("memory", torch.ones(c.c_2))
        self.contour_head = ContourHead(3, c.contour_width) if c.contour_width else None
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        self.embedder.reset_parameters(generator)
        self.seed_layer.reset_parameters(generator)
        nn.init.xavier_normal_(self.reconstruction.weight, generator=generator)
        self.memory.fill_(1.0)
        if self.contour_head is not None:  # drawn last: the other layers' draws as before the head
            self.contour_head.reset_parameters(generator)

    def contours(self, colour: torch.Tensor) -> torch.Tensor | None:
        """The contour head's map ``(B, 1, H, W)`` of the clustering's colour, or None."""
        return None if self.contour_head is None else self.contour_head(colour)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.embedder(x)

    def seed_positions(self, z: torch.Tensor, grid: Grid) -> torch.Tensor:
        return self.seed_layer(z, grid)

    @staticmethod
    def seed_features(z: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        return sample_features(z, positions)

    def reconstruct(self, z: torch.Tensor, position_features: torch.Tensor | None = None) -> torch.Tensor:
        """X^r = Z W^r (Eq. 8). ``position_features`` (the GBL output, equal to ``z`` in
        value) feeds the two position rows, so the GBL rescales the gradient that reaches
        the features through the position reconstruction while the head itself gets the
        plain gradient."""
        if position_features is None:
            return self.reconstruction(z)
        w = self.reconstruction.weight
        return torch.cat([F.conv2d(z, w[:3]), F.conv2d(position_features, w[3:5])], dim=1)

    def forward(self, x: torch.Tensor, grid: Grid):
        """Features, seed positions and seed features for one batch of encoded images."""
        z = self.embed(x)
        pos = self.seed_positions(z, grid)
        return z, pos, self.seed_features(z, pos)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters by training phase: 'features' (FEM + reconstruction head), 'seeds' (SEL),
        'contours' (the contour head; empty without one)."""
        return {
            "features": list(self.embedder.parameters()) + list(self.reconstruction.parameters()),
            "seeds": list(self.seed_layer.parameters()),
            "contours": [] if self.contour_head is None else list(self.contour_head.parameters()),
        }
