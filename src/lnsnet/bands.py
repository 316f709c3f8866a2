"""The network on a large image, in bands of full-width rows, with bounded memory.

Passes 1-3 gather the InstanceNorm statistics of the whole image layer by layer, pass 4
samples the seed features at the seed positions, then the clustering reads the pixel
features band by band (:func:`lnsnet.cluster.cluster_local`). Each band is computed with
``halo`` rows of context, so the features equal those of the image in one piece up to
float rounding.
"""

from __future__ import annotations

import numpy as np
import torch

from .grid import Grid
from .model import LNSNet
from .model.embedder import moments, stats_from_moments
from .model.seeds import sample_features
from .runtime import memory_bytes, progress_bar

__all__ = ["BandedFeatures", "band_rows", "TILE_PIXELS", "BAND_PIXELS"]

# above this many pixels the network runs in bands of rows (bounded memory) ...
TILE_PIXELS = 2_000_000
# ... of about this many pixels each (at least 64 rows): the convolutions' im2col
# workspace (~1.3 kB per pixel for the 35-channel layer) is what bounds the band
BAND_PIXELS = 256_000
# the pixel features Z of the whole image are kept between clustering passes when they
# take at most this many bytes as float32, else as float16 when that takes at most
# Z_CACHE_HALF_BYTES and a quarter of the memory (else each pass runs the network again)
Z_CACHE_BYTES = 512 << 20
Z_CACHE_HALF_BYTES = 4 << 30


def band_rows(h: int, w: int, tile_pixels: int) -> list[tuple[int, int]]:
    """The bands ``[(r0, r1), ...]`` of an ``h x w`` image, top to bottom."""
    rows = max(8, min(tile_pixels // max(w, 1), max(64, BAND_PIXELS // max(w, 1))))
    return [(r0, min(h, r0 + rows)) for r0 in range(0, h, rows)]


class BandedFeatures:
    """The pixel features of one large image ``x`` ``(1, 5, H, W)``, band by band.

    The network runs band by band three times to gather the InstanceNorm statistics of
    the whole image (one pass per normalisation). Z is kept when it fits (float32, or
    float16: about 1e-3 relative rounding of the features): the last statistics pass keeps
    its output, the last convolution's, and each band is normalised into Z when first read,
    so the network never runs a fourth time; else Z is recomputed for the seed features and
    on every one of the clustering's ``passes`` over the bands (from
    :func:`lnsnet.cluster.local.feature_passes`). ``progress`` shows a bar of bands (``True``)
    or calls ``progress(done, total)`` (a callable: :func:`lnsnet.runtime.progress_bar`).

    Attributes: ``bands``, ``seed_features`` ``(K, C)`` numpy at ``seed_pos``; call
    :meth:`zband` for the features ``(C, r1 - r0, W)`` float32 of a band, :meth:`close`
    when done.
    """

    def __init__(self, net: LNSNet, x: torch.Tensor, grid: Grid, device: torch.device, tile_pixels: int,
                 seed_pos: torch.Tensor, passes: int = 1, progress=False) -> None:
        self.fem, self.x, self.device = net.embedder, x, device
        _, _, h, w = x.shape
        self.h = h
        self.bands = band_rows(h, w, tile_pixels)
        z_bytes = self.fem.out_channels * h * w * 4
        if z_bytes <= Z_CACHE_BYTES:  # kept even when read once: the network then runs 3 times, not 5
            keep = torch.float32
        elif z_bytes // 2 <= min(Z_CACHE_HALF_BYTES, memory_bytes() // 4):
            keep = torch.float16
        else:
            keep = None
        # Z of the whole image, kept in one block (channels-last: each band's pixels whole) so
        # that many band-sized pieces do not fragment the heap; every band's rows first hold the
        # last convolution's output (``pre``), normalised into Z when the band is first read
        self.store = None if keep is None else torch.empty((1, self.fem.out_channels, h, w), dtype=keep,
                                                           memory_format=torch.channels_last)
        self.pre: set = set()
        self.bar = progress_bar(progress, (4 if keep is not None else 4 + passes) * len(self.bands),
                                f"lnsnet {h}x{w} in bands", "band")
        self.stats = [None, None, None]
        for stage in range(3):
            s1 = s2 = 0.0
            for r0, r1 in self.bands:
                out = self._band(r0, r1, stage)
                m1, m2, _ = moments(out)
                s1, s2 = s1 + m1, s2 + m2
                if stage == 2 and self.store is not None:  # Z is this after the last normalisation: keep it
                    self._put(r0, r1, out)
                    self.pre.add((r0, r1))
            self.stats[stage] = stats_from_moments(s1, s2, h * w)
        self.seed_features = self._sample(seed_pos)

    def _band(self, r0: int, r1: int, stage: int) -> torch.Tensor:
        """The output of layer ``stage`` (3: Z) on rows ``r0 .. r1``, computed with its halo."""
        self.bar.update(1)
        h, halo = self.h, self.fem.halo
        a, b = max(0, r0 - halo), min(h, r1 + halo)
        out = self.fem.forward_band(self.x[:, :, a:b].to(self.device), a == 0, b == h, self.stats, stage)
        start = a + (self.fem.halo_of(stage) if a > 0 else 0)
        return out[:, :, r0 - start : r1 - start]

    def _sample(self, pos: torch.Tensor) -> np.ndarray:
        """Bilinear samples of Z at ``pos`` ``(K, 2)`` (pixels), from the rows they need only."""
        lo = pos[:, 0].floor().clamp(0, self.h - 1).long()
        hi = (lo + 1).clamp(max=self.h - 1)
        need = sorted(set(lo.tolist()) | set(hi.tolist()))
        where = {r: i for i, r in enumerate(need)}
        # written in place, allocated once (small row copies kept between band-sized
        # temporaries would fragment the heap)
        table = torch.empty((1, self.fem.out_channels, len(need), self.x.shape[3]))  # (1, C, rows needed, W)
        for r0, r1 in self.bands:
            rows = [r for r in need if r0 <= r < r1]
            if not rows:
                continue
            at_rows = [where[r] for r in rows]
            if self.store is not None:
                self._finish(r0, r1)
                table[0, :, at_rows] = self.store[0, :, rows].float()
            else:
                table[0, :, at_rows] = self._band(r0, r1, 3)[0, :, [r - r0 for r in rows]].detach().cpu().float()
        # rows lo and lo + 1 are neighbours in the table too: the same bilinear weights
        row = torch.tensor([where[r] for r in lo.tolist()], dtype=pos.dtype) + (pos[:, 0] - lo).clamp(0, 1)
        at = torch.stack([row, pos[:, 1]], 1)[None]
        return sample_features(table, at)[0].numpy()

    def _put(self, r0: int, r1: int, z: torch.Tensor) -> None:
        """Write a band's ``z`` ``(1, C, r1 - r0, W)`` into the store (float16: clipped to its
        range; InstanceNorm's inputs and outputs are far below 65504, never inf)."""
        z = z.detach().cpu()
        if self.store.dtype == torch.float16:
            z = z.clamp(-65504.0, 65504.0)
        self.store[:, :, r0:r1] = z

    def _finish(self, r0: int, r1: int) -> None:
        """Normalise band ``(r0, r1)``'s last-layer output in the store into Z, once."""
        if (r0, r1) in self.pre:
            self.pre.discard((r0, r1))
            self._put(r0, r1, self.fem.finish(self.store[:, :, r0:r1].float().to(self.device), self.stats[2]))
            self.bar.update(1)

    def zband(self, r0: int, r1: int) -> np.ndarray:
        """The features ``(C, r1 - r0, W)`` float32 of band ``(r0, r1)``."""
        if self.store is not None:
            self._finish(r0, r1)
            return self.store[0, :, r0:r1].float().numpy()  # float16: the same rounding on every pass
        return self._band(r0, r1, 3)[0].detach().cpu().float().numpy()

    def close(self) -> None:
        self.store = None
        self.pre.clear()
        self.bar.close()
