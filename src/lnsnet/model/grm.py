"""Gradient rescaling module (GRM), Sec. 3.2, Eqs. (8)-(12).

Both layers are the identity in the forward pass and rescale the gradient in the backward
pass; they are written as ``torch.autograd.Function`` so the rescaling is explicit.
"""

from __future__ import annotations

import torch

__all__ = [
    "reconstruction_strength",
    "GradientAdaptive",
    "GradientBidirection",
    "gal",
    "gbl",
    "gal_scale",
    "gbl_scale",
    "update_memory",
]


def reconstruction_strength(weight: torch.Tensor) -> torch.Tensor:
    """Mean reconstruction strength g(W^r) per feature channel (Eq. 9).

    ``weight`` : reconstruction weights ``(5, C)`` (or a 1x1 conv weight ``(5, C, 1, 1)``);
    rows 0-2 reconstruct colour, rows 3-4 position.
    Returns ``(C,)``: ``mean_i<3 |W_i,c| * mean_{i=3,4} |W_i,c|``.
    """
    a = weight.reshape(weight.shape[0], -1).abs()
    return a[:3].mean(0) * a[3:5].mean(0)


def gal_scale(g: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
    """psi^a = g / (g + m) per channel (Eq. 11)."""
    return g / (g + memory)


def update_memory(memory: torch.Tensor, g: torch.Tensor, rate: float) -> None:
    """In place: m <- rate * g + (1 - rate) * m (Eq. 10)."""
    memory.mul_(1.0 - rate).add_(g, alpha=rate)


GBL_MODES = ("reverse", "attenuate")


def gbl_scale(contours: torch.Tensor, epsilon: float, mode: str = "reverse") -> torch.Tensor:
    """psi^b per pixel.

    ``"reverse"`` (Eq. 12 as printed): 1 where B <= epsilon, -B where B > epsilon.
    ``"attenuate"``: 1 where B <= epsilon, 1 - B where B > epsilon: the gradient that
    asks contour pixels to encode position is weakened instead of reversed, which keeps
    the reconstruction loss bounded below (the reversed form diverges in lifelong
    training, see docs/design.md).
    """
    if mode == "reverse":
        contour_value = -contours
    elif mode == "attenuate":
        contour_value = 1.0 - contours
    else:
        raise ValueError(f"unknown GBL mode {mode!r}; allowed: {', '.join(GBL_MODES)}")
    return torch.where(contours > epsilon, contour_value, torch.ones_like(contours))


class _ScaleGradient(torch.autograd.Function):
    """``y = x``; ``dL/dx = dL/dy * factor`` with ``factor`` broadcast against ``x``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(factor)
        return x.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (factor,) = ctx.saved_tensors
        return grad * factor.to(grad.dtype), None


class GradientAdaptive(_ScaleGradient):
    """GAL: ``y = x``; ``dL/dx = dL/dy * scale[c]`` for ``x`` of shape ``(B, C, H, W)``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return _ScaleGradient.forward(ctx, x, scale.reshape(1, -1, 1, 1))


class GradientBidirection(_ScaleGradient):
    """GBL: ``y = x``; ``dL/dx = dL/dy * psi[b, h, w]`` for ``x`` ``(B, C, H, W)``, psi ``(B, H, W)``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
        return _ScaleGradient.forward(ctx, x, psi[:, None])


def gal(z: torch.Tensor, g: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
    """Apply GAL with ``psi^a = g / (g + m)`` (no gradient flows into g or m)."""
    return GradientAdaptive.apply(z, gal_scale(g, memory).detach())


def gbl(x: torch.Tensor, contours: torch.Tensor, epsilon: float = 0.3, mode: str = "reverse") -> torch.Tensor:
    """Apply GBL to ``x`` ``(B, C, H, W)`` with contour map ``contours`` ``(B, H, W)``."""
    return GradientBidirection.apply(x, gbl_scale(contours, epsilon, mode).detach())
