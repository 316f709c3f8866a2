"""RIM: superpixels from a CNN optimised on each image by regularised information
maximisation (Suzuki, ICASSP 2020), written from the paper for this package.

For one image, a small fully convolutional network maps the standardised RGB + XY input
to ``K`` logits per pixel (plus 3 reconstruction channels) and is trained from scratch on
that image only, for ``iterations`` Adam steps, on

    L = H(p | x) - lam * H(p)  +  alpha * S(p, x)  +  beta * ||x_rgb - r(x)||^2 / (3N)

``H(p | x)``: mean over pixels of the entropy of the per-pixel distribution ``p = softmax``
(each pixel should pick one superpixel); ``H(p)``: entropy of the mean distribution (all K
superpixels used equally); ``S``: the smoothness term, the mean over horizontal and
vertical neighbour pairs of ``|p_i - p_j|_1 exp(-|x_i - x_j|^2 / 8)`` (on the standardised
input, so differences count less across image edges); the last term reconstructs the RGB
input from the 3 extra channels. Labels are the per-pixel argmax, made connected.

Network (the paper's): four blocks of reflection-pad + 3x3 convolution (no bias) +
affine InstanceNorm + ReLU with 32, 64, 128, 256 channels, a 1x1 convolution to K + 3
channels, an affine InstanceNorm on the K logits; Xavier-normal weights. Paper settings:
500 iterations, Adam lr 0.01, lam = 2, alpha = 2, beta = 2 (the authors' command-line
default; 10 in their function signature). At 481x321 one step costs about 64 G
multiply-adds forward (x3 with the backward pass): minutes per image on a GPU, about half
an hour on two CPU cores.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["RIMNet", "rim", "mutual_information_loss", "smoothness_loss", "rim_input", "cnn_setup", "default_device"]


def default_device(device=None) -> torch.device:
    """``device``, or CUDA when available, else CPU: the CNN baselines' default."""
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def cnn_setup(image, n_segments, device) -> tuple[np.ndarray, int, torch.device]:
    """Shared start of the CNN baselines: float RGB, K checked, the device (default: CUDA
    when available, else CPU)."""
    from ..io import to_float_rgb

    rgb = to_float_rgb(image)
    k = int(n_segments)
    if k < 1:
        raise ValueError(f"n_segments must be >= 1, got {n_segments!r}")
    return rgb, k, default_device(device)


class RIMNet(nn.Module):
    """The per-image network of RIM: ``(1, 5, H, W)`` -> ``(logits (1, K, H, W), rgb (1, 3, H, W))``."""

    def __init__(self, n_segments: int, in_channels: int = 5, width: int = 32, blocks: int = 4,
                 generator: torch.Generator | None = None):  # fmt: skip
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for i in range(blocks):
            out = width << i
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(c, out, 3, bias=False), nn.InstanceNorm2d(out, affine=True),
                       nn.ReLU(inplace=True)]  # fmt: skip
            c = out
        layers.append(nn.Conv2d(c, n_segments + 3, 1))
        self.body = nn.Sequential(*layers)
        self.norm = nn.InstanceNorm2d(n_segments, affine=True)
        self.n_segments = n_segments
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_normal_(m.weight, generator=generator)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        y = self.body(x)
        return self.norm(y[:, 3:]), y[:, :3]


def rim_input(rgb: np.ndarray) -> torch.Tensor:
    """``(H, W, 3)`` float RGB -> ``(1, 5, H, W)``: RGB and the pixel row/column, each
    channel standardised over the image (a constant channel stays 0)."""
    h, w = rgb.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w]
    x = np.concatenate([rgb.astype(np.float32).transpose(2, 0, 1), ys[None], xs[None]]).astype(np.float32)
    mean = x.mean(axis=(1, 2), keepdims=True)
    std = x.std(axis=(1, 2), keepdims=True)
    return torch.from_numpy((x - mean) / np.where(std > 0, std, 1.0))[None]


def mutual_information_loss(logits: torch.Tensor, lam: float = 2.0) -> torch.Tensor:
    """Mean pixel entropy minus ``lam`` times the entropy of the mean distribution
    (natural log). Uniform ``p`` everywhere gives ``(1 - lam) log K``; confident pixels that
    use the K labels equally often give ``-lam log K``."""
    logp = torch.log_softmax(logits, dim=1)
    p = logp.exp()
    pixel = -(p * logp).sum(1).mean()
    marginal = p.mean(dim=(2, 3))
    marginal_entropy = -(marginal * torch.log(marginal.clamp_min(1e-16))).sum(1).mean()
    return pixel - lam * marginal_entropy


def smoothness_loss(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean over horizontal pairs plus mean over vertical pairs of
    ``|p_i - p_j|_1 * exp(-|x_i - x_j|^2 / 8)``."""
    p = torch.softmax(logits, dim=1)
    total = logits.new_zeros(())
    for dim in (3, 2):
        n = p.shape[dim]
        dp = (p.narrow(dim, 0, n - 1) - p.narrow(dim, 1, n - 1)).abs().sum(1)
        dx = (x.narrow(dim, 0, n - 1) - x.narrow(dim, 1, n - 1)).pow(2).sum(1)
        if dp.numel():
            total = total + (dp * torch.exp(-dx / 8.0)).mean()
    return total


def rim(image, n_segments: int, *, iterations: int = 500, lr: float = 1e-2, lam: float = 2.0,
        alpha: float = 2.0, beta: float = 2.0, seed: int = 0, device=None,
        progress: bool = False) -> np.ndarray:  # fmt: skip
    """Superpixels of one image by RIM: ``(H, W)`` int labels, connected.

    Parameters
    ----------
    image : ``(H, W, 3)`` uint8 or float RGB in [0, 1].
    n_segments : K, the number of output channels (RIM delivers at most K segments before
        connectivity; unused channels vanish).
    iterations, lr, lam, alpha, beta : the paper's optimisation (see the module docstring).
    seed : initialisation of the network.
    device : torch device (default: CUDA when available, else CPU).
    """
    from ..connectivity import enforce_connectivity

    rgb, k, dev = cnn_setup(image, n_segments, device)
    if iterations < 0:
        raise ValueError(f"iterations must be >= 0, got {iterations!r}")
    g = torch.Generator().manual_seed(int(seed))
    net = RIMNet(k, generator=g).to(dev)
    x = rim_input(rgb).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    steps = range(iterations)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="RIM", unit="it")
    # one input size for 500 steps: let cuDNN pick its fastest convolutions (no effect on CPU)
    with torch.enable_grad(), torch.backends.cudnn.flags(enabled=True, benchmark=True):
        for _ in steps:
            logits, rec = net(x)
            loss = mutual_information_loss(logits, lam) + alpha * smoothness_loss(logits, x)
            if beta:
                loss = loss + beta * torch.mean((rec - x[:, :3]) ** 2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    with torch.no_grad():
        labels = net(x)[0].argmax(1)[0].cpu().numpy()
    # the authors keep pieces of at least 6% of the mean superpixel size
    return enforce_connectivity(labels, rgb, n_segments=k, min_size_factor=0.06)
