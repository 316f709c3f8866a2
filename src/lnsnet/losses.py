"""Losses of Sec. 3.3: range-limited clustering loss (Eqs. 14-17), reconstruction (18-19).

Shapes: the loss is computed on a set of ``N`` pixels (all of them, or a sample), each
with ``M`` candidate seeds: distances and assignments are ``(N, M)``, with ``index``
``(N, M)`` giving the seed of each candidate (see :meth:`lnsnet.grid.Grid.pixel_candidates`).
With ``M = K`` candidates this is the dense form of the paper.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .cluster.layer import student_t

__all__ = ["topn_mask", "clustering_loss", "regular_term", "reconstruction_loss", "total_loss"]

_EPS = 1e-12


def topn_mask(
    pixel_pos: torch.Tensor, seed_pos: torch.Tensor, index: torch.Tensor, valid: torch.Tensor, n: int = 9
) -> torch.Tensor:
    """The range-limited set V_i: the ``n`` seeds nearest to each pixel in l1 distance (Eq. 15).

    Parameters
    ----------
    pixel_pos : ``(N, 2)`` pixel positions (row, col).
    seed_pos : ``(K, 2)`` seed positions (row, col) in pixels.
    index, valid : ``(N, M)`` candidate seeds of every pixel and their validity.
    n : size of V_i (the paper: 9).

    Returns
    -------
    BoolTensor ``(N, M)``: True where the candidate is in V_i (the paper's ``1 - M``).
    Ties are broken by candidate order.
    """
    sp = seed_pos.detach()[index]  # (N, M, 2)
    d = (sp - pixel_pos[:, None, :].to(sp.dtype)).abs().sum(-1)
    d = torch.where(valid, d, torch.full_like(d, float("inf")))
    k = min(int(n), index.shape[1])
    top = d.topk(k, dim=1, largest=False).indices
    mask = torch.zeros_like(valid).scatter_(1, top, True)
    return mask & valid


def _target(pt: torch.Tensor, inside: torch.Tensor, index: torch.Tensor, n_seeds: int) -> torch.Tensor:
    """Sharpened target Q~ (Eq. 16): Q_ik ∝ P_ik^2 / f_k with f_k = sum_i P_ik. No gradient."""
    with torch.no_grad():
        f = torch.zeros(n_seeds, dtype=pt.dtype, device=pt.device)
        f.index_add_(0, index[inside], pt[inside])
        t = torch.where(inside, pt * pt / f[index].clamp_min(_EPS), torch.zeros_like(pt))
        return t / t.sum(1, keepdim=True).clamp_min(_EPS)


def regular_term(p: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
    """l(P) (Eq. 17): mean over pixels of (mass outside V_i) / (mass inside V_i)."""
    p_in = torch.where(inside, p, torch.zeros_like(p)).sum(1)
    p_out = torch.where(inside, torch.zeros_like(p), p).sum(1)
    return (p_out / p_in.clamp_min(_EPS)).mean()


def clustering_loss(
    d2: torch.Tensor,
    inside: torch.Tensor,
    index: torch.Tensor,
    n_seeds: int,
    alpha: float = 1.0,
) -> tuple[torch.Tensor, dict]:
    """Range-limited clustering loss L_c (Eq. 14), averaged over pixels.

    Parameters
    ----------
    d2 : ``(N, M)`` squared feature distances pixel-candidate seed (``inf`` = invalid).
    inside : ``(N, M)`` bool, V_i from :func:`topn_mask`.
    index : ``(N, M)`` seed index of every candidate.
    n_seeds : K.

    The soft assignment P (Eq. 6) is normalised over all candidates; P~ keeps the entries
    in V_i and is renormalised so that each pixel's row is a distribution; the target Q~
    (Eq. 16) is computed from P~ without gradient (as in DEC). Returns
    ``KL(Q~ || P~) + l(P)`` and its parts. The paper sums over pixels; the mean used here
    makes the loss independent of the image size.
    """
    q = student_t(d2, alpha)
    p = q / q.sum(1, keepdim=True).clamp_min(_EPS)
    p_in = torch.where(inside, p, torch.zeros_like(p))
    pt = p_in / p_in.sum(1, keepdim=True).clamp_min(_EPS)
    target = _target(pt, inside, index, n_seeds)
    log_ratio = torch.log(target.clamp_min(_EPS)) - torch.log(pt.clamp_min(_EPS))
    kl = torch.where(target > 0, target * log_ratio, torch.zeros_like(pt)).sum(1).mean()
    reg = regular_term(p, inside)
    return kl + reg, {"kl": kl.detach(), "regular": reg.detach()}


def reconstruction_loss(xr: torch.Tensor, x: torch.Tensor, phi: float = 1.0) -> tuple[torch.Tensor, dict]:
    """L_r = MSE(colour) + phi * MSE(position) (Eq. 18); ``(B, 5, H, W)`` each.

    The GBL (applied to ``xr`` before this loss) makes the gradient equal to that of Eq. 19.
    """
    lc = F.mse_loss(xr[:, :3], x[:, :3])
    ls = F.mse_loss(xr[:, 3:5], x[:, 3:5])
    return lc + phi * ls, {"rec_colour": lc.detach(), "rec_position": ls.detach()}


def total_loss(l_c: torch.Tensor, l_r: torch.Tensor, beta: float = 10.0) -> torch.Tensor:
    """L = L_c + beta * L_r (Eq. 13)."""
    return l_c + beta * l_r
