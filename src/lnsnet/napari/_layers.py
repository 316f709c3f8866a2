"""What the widget gives :func:`lnsnet.segment` for a napari image layer, and where the labels
it returns go: no Qt here, only the layer's and the viewer's attributes.

The rules (the README's napari section says the same):

* An RGB/RGBA layer (``layer.rgb``) is one colour image: its last axis is the channels
  (``channel_axis=-1``), never a third spatial axis.
* A gray layer has no channel axis (``channel_axis=None``), 2-D or 3-D alike. With
  "channels in axis" N (0: a ``(C, Y, X)`` or ``(C, Z, Y, X)`` layer; 1: ``(Z, C, Y, X)``) it is one multichannel
  image (its channels are taken as they are, ``convert2lab=False``); the labels then span
  every channel.
* "Current plane" segments the 2-D plane the viewer displays (the last two axes of
  ``viewer.dims.order``) at the viewer's current position on every other axis: a time
  series is never processed whole, one time point (and one z-slice) at a time.
  "Whole volume" segments the displayed 3-D volume at the current position on the axes
  before it (the current time point), with ``spacing`` from the layer's scale (z, y, x):
  :func:`lnsnet.segment`'s 3-D path (supervoxels).
* One labels layer per image layer, mode and set of segmented axes, named so that they never meet:
  ``"<layer> superpixels (2D)"`` for planes, ``"<layer> supervoxels (3D)"`` for volumes
  (``"<layer> superpixels"`` when the layer is a single plane: nothing else is possible).
  It has the image layer's dimensions (less the channel axis) and its scale, translate,
  rotate, shear and affine, and each run writes its plane or volume in place at the
  position it segmented (``Job.region``): stepping through a time series and running at
  each time point fills one layer, earlier time points kept, instead of adding a layer
  each time. A layer that large would be held in memory whole, so above
  :data:`IN_PLACE_BYTES` (a lazy or very large series) each run gets its own layer
  instead: size 1 on the axes fixed at the current position, translated there, its name
  ending with the position (``"... (2D) [t=3, z=10]"``).
* The labels layer belongs to the image layer by identity, not by name: the image layer
  gets a uuid (``metadata["lnsnet_id"]``, :func:`layer_id`) on first use, and the labels
  layer's ``metadata["lnsnet"]`` records it with the mode and the segmented axes as a set
  (:meth:`Job.key`): a view that only transposes them writes into the same layer; another
  set of axes (e.g. (Z, X) planes, or time taken as a spatial axis) gets a layer of its
  own, its name ending with them (``"... (2D) [axes 1, 3]"``).
"""

from __future__ import annotations

import uuid
import weakref
from dataclasses import dataclass, field

import numpy as np

__all__ = ["IN_PLACE_BYTES", "Job", "layer_id", "plan_job"]

#: the largest labels layer (int32, the image layer's shape less channels) that runs write
#: into in place; above it each run gets a layer of its own plane or volume (a lazily read
#: series of many time points would otherwise need its whole size in memory at the first run)
IN_PLACE_BYTES = 1 << 30


#: the image layer each identity was last handed to: a duplicated layer (napari copies its
#: metadata) gets an identity of its own instead of writing into the original's results
_OWNERS: "weakref.WeakValueDictionary[str, object]" = weakref.WeakValueDictionary()


def layer_id(layer, record: dict | None = None, key: str = "lnsnet_id") -> str:
    """A layer's identity, ``record[key]`` (default: the image layer's
    ``metadata["lnsnet_id"]``; the widget's labels layers keep theirs in their
    ``metadata["lnsnet"]``): a uuid made on first use (and made anew for a copy of a layer
    that already has one: napari copies metadata), kept when the layer is renamed."""
    meta = layer.metadata if record is None else record
    ident = meta.get(key)
    owner = _OWNERS.get(ident) if isinstance(ident, str) else None
    if not isinstance(ident, str) or (owner is not None and owner is not layer):
        ident = uuid.uuid4().hex
        meta[key] = ident
    _OWNERS[ident] = layer
    return ident


def owns(layer, ident) -> bool:
    """Whether ``ident`` was handed to this very layer (not to a layer it was copied from)."""
    return isinstance(ident, str) and _OWNERS.get(ident) is layer


@dataclass(frozen=True)
class Job:
    """One call of :func:`lnsnet.segment` for a layer, and how to place its labels."""

    source: object  #: the layer's data (full resolution), indexed lazily
    index: tuple  #: index into ``source``: ``slice(None)`` on kept axes, an int elsewhere
    perm: tuple  #: transpose of ``source[index]`` into (spatial..., channels)
    channel_axis: int | None
    convert2lab: bool | None
    spacing: tuple | None
    kept: tuple  #: layer axes the labels span, in the order of the image handed to segment
    out_shape: tuple  #: the labels layer's data shape
    layer_kwargs: dict = field(default_factory=dict)  #: scale, translate, ... of the labels layer
    where: str = ""  #: the fixed positions, e.g. "t=3, z=10" ("" when the whole layer)
    name: str = ""  #: the labels layer's name
    source_name: str = ""  #: the image layer's name
    full_shape: tuple = ()  #: the labels layer's shape when written in place (the layer's, less channels)
    region: tuple = ()  #: where ``place(labels)`` goes in a layer of ``full_shape``
    in_place: bool = False  #: one layer of ``full_shape`` for every run (else one of ``out_shape`` per position)
    source_id: str = ""  #: the image layer's identity (:func:`layer_id`)
    position: tuple = ()  #: ``(axis, index)`` of each fixed axis (of the image layer)
    channel: int | None = None  #: the layer axis that holds channels ("channels in axis"), or None
    source_shape: tuple = ()  #: the image layer's shape (less an RGB axis) when planned

    @property
    def fixed_at(self) -> list:
        """``[[axis, index], ...]`` of the fixed axes, as the labels layer's record keeps them."""
        return [[int(a), int(i)] for a, i in self.position]

    def key(self) -> dict:
        """What names the labels layer of this job in its ``metadata["lnsnet"]`` (besides
        its role): the image layer's identity, the mode, the segmented axes as a set (a
        transposed view writes into the same layer) and, for a layer per position, the position."""
        return {"source_id": self.source_id, "mode": self.mode, "axes": sorted(int(a) for a in self.kept),
                "in_place": bool(self.in_place), "position": None if self.in_place else self.fixed_at,
                "channel": self.channel}

    def image(self) -> np.ndarray:
        """The array for :func:`lnsnet.segment` (reads the data: call it in the worker)."""
        return np.ascontiguousarray(np.transpose(np.asarray(self.source[self.index]), self.perm))

    @property
    def spatial(self) -> int:
        return len(self.kept)

    @property
    def mode(self) -> str:
        """``"2D"`` (a plane) or ``"3D"`` (a volume): with the image layer, which labels layer."""
        return f"{self.spatial}D"

    @property
    def shape(self) -> tuple:
        """The labels layer's data shape."""
        return self.full_shape if self.in_place else self.out_shape

    def place(self, labels: np.ndarray) -> np.ndarray:
        """``labels`` (the segmented axes, in ``kept`` order) as the labels layer's data."""
        data_order = sorted(self.kept)
        return np.transpose(labels, [self.kept.index(a) for a in data_order]).reshape(self.out_shape)


def _index(position: float, size: int) -> int:
    return int(np.clip(np.round(position), 0, size - 1))


def _separable(m: np.ndarray, axis: int) -> bool:
    others = [i for i in range(m.shape[0]) if i != axis]
    return np.allclose(m[axis, others], 0) and np.allclose(m[others, axis], 0)


def _transforms(layer, nd: int, chan: int | None, offset: np.ndarray) -> dict:
    """The labels layer's scale/translate/rotate/shear/affine: the image layer's, with the
    translate moved by ``offset`` (data units, on the axes fixed at the current position)
    and the channel axis ``chan`` (if any) left out."""
    from napari.utils.transforms import CompositeAffine

    scale = np.asarray(layer.scale, dtype=float)
    translate = np.asarray(layer.translate, dtype=float)
    rotate = np.asarray(layer.rotate, dtype=float)
    shear = np.asarray(layer.shear, dtype=float)
    affine = np.asarray(layer.affine.affine_matrix, dtype=float)
    d2p = CompositeAffine(scale=scale, translate=translate, rotate=rotate, shear=shear, ndim=nd)
    translate = translate + (np.asarray(d2p(offset)) - np.asarray(d2p(np.zeros(nd))))
    if chan is None:
        return dict(scale=tuple(scale), translate=tuple(translate), rotate=rotate, shear=shear, affine=affine)
    # the channel axis is left out: only where the other transforms do not mix it in
    lin = affine[:nd, :nd]
    full_shear = np.eye(nd)
    full_shear[np.triu_indices(nd, 1)] = shear
    if not (_separable(rotate, chan) and _separable(full_shear, chan) and _separable(lin, chan)):
        raise ValueError(f"layer {layer.name!r}: its rotate/shear/affine mix the channel axis ({chan}) "
                         "with the others, so labels without it cannot be placed on it")
    keep = [i for i in range(nd) if i != chan]
    sub_affine = np.delete(np.delete(affine, chan, axis=0), chan, axis=1)
    return dict(scale=tuple(scale[keep]), translate=tuple(translate[keep]), rotate=rotate[np.ix_(keep, keep)],
                shear=full_shear[np.ix_(keep, keep)][np.triu_indices(nd - 1, 1)], affine=sub_affine)


def base_data(layer):
    """The image layer's full-resolution data (a multiscale layer's first level)."""
    return layer.data[0] if getattr(layer, "multiscale", False) else layer.data


def layer_shape(layer) -> tuple:
    """The image layer's data shape (its full resolution), without an RGB axis."""
    return tuple(int(s) for s in base_data(layer).shape[:int(layer.ndim)])


def four_channels(layer) -> bool:
    """An "RGBA" layer that is not 8-bit (napari takes any last axis of 4 for RGBA): four
    channels, such as four 16-bit stains, not RGB and alpha."""
    data = base_data(layer)
    return bool(getattr(layer, "rgb", False)) and data.shape[-1] == 4 and np.dtype(data.dtype) != np.uint8


def plan_job(layer, dims, *, volume: bool = False, channels_first: bool = False, channel: int | None = None) -> Job:
    """What to segment for ``layer`` (a napari Image layer) as the viewer (``dims``:
    ``viewer.dims``) shows it; ``ValueError`` with a message for the user when it cannot.

    ``volume``: the displayed 3-D volume instead of the displayed plane; ``channel``: the
    layer axis that holds channels, e.g. 1 for a (Z, C, Y, X) hyperstack (not for RGB
    layers); ``channels_first``: ``channel=0``. A layer of one reading and another (channels
    in an axis or not) gets a labels layer for each, named apart where they would meet. An
    "RGBA" layer that is not 8-bit (napari takes any last axis of 4 for RGBA: four stains of
    16 bits) is four channels, all of them clustered (``convert2lab=False``), not RGB and
    alpha."""
    data = base_data(layer)
    nd = int(layer.ndim)  # napari's ndim: without the RGB axis
    rgb = bool(getattr(layer, "rgb", False))
    shape = layer_shape(layer)
    name = layer.name
    chan = channel if channel is not None else 0 if channels_first else None
    if chan is not None and rgb:
        raise ValueError(f"layer {name!r} is RGB: its channels are its last axis; untick 'channels in axis'")
    if chan is not None and nd < 3:
        raise ValueError(f"layer {name!r} has {nd} axes: channels in an axis need at least (C, Y, X)")
    if chan is not None and not 0 <= chan < nd:
        raise ValueError(f"layer {name!r} has axes 0..{nd - 1}: no axis {chan} to hold channels")
    need = 3 if volume else 2
    spatial_axes = [a for a in range(nd) if a != chan]
    if len(spatial_axes) < need:
        raise ValueError(f"layer {name!r} has {len(spatial_axes)} spatial axes ({'x'.join(map(str, shape))}"
                         f"{', the first holding channels' if chan is not None else ''}): "
                         "'whole volume' needs 3; choose 'current plane'")
    # the layer's axes in the viewer's display order (napari aligns layers on the last world axes)
    offset = int(dims.ndim) - nd
    order = [w - offset for w in dims.order if 0 <= w - offset < nd and w - offset != chan]
    kept = tuple(order[-need:])
    position = np.asarray(layer.world_to_data(dims.point), dtype=float)
    index, fixed, where, fixed_at = [], np.zeros(nd), [], []
    labels = list(dims.axis_labels)

    def label_of(a):
        label = str(labels[a + offset]) if a + offset < len(labels) else ""
        return None if not label or label.lstrip("-").isdigit() else label  # napari's default labels are numbers

    for a in range(nd):
        if a in kept or a == chan:
            index.append(slice(None))
        else:
            if not -0.5 <= position[a] < shape[a] - 0.5:  # napari shows none of the layer there
                raise ValueError(f"layer {name!r} does not reach the viewer's position on "
                                 f"{label_of(a) or f'axis {a}'} ({position[a]:.1f} in its data; it holds "
                                 f"0..{shape[a] - 1}): move that slider onto the layer")
            i = _index(position[a], shape[a])
            index.append(i)
            fixed[a] = i
            fixed_at.append((a, i))
            where.append(f"{label_of(a) or f'axis {a}'}={i}")
    remaining = sorted(set(kept) | ({chan} if chan is not None else set()))
    perm = [remaining.index(a) for a in kept]
    if chan is not None:
        perm.append(remaining.index(chan))
    if rgb:
        perm.append(len(remaining))
    scale = [abs(float(layer.scale[a])) for a in kept]  # a flipped axis (negative scale) is as long
    if volume:
        spacing = tuple(scale)
    else:
        spacing = None if np.allclose(scale, scale[0]) else tuple(scale)  # isotropic: the same labels
    out_shape = tuple(shape[a] if a in kept else 1 for a in range(nd) if a != chan)
    full_shape = tuple(shape[a] for a in range(nd) if a != chan)
    region = tuple(slice(None) if a in kept else slice(int(fixed[a]), int(fixed[a]) + 1)
                   for a in range(nd) if a != chan)
    in_place = 4 * int(np.prod(full_shape, dtype=np.int64)) <= IN_PLACE_BYTES or full_shape == out_shape
    where_text = ", ".join(where)
    # planes and volumes of one layer: two labels layers, never one name (a volume's would
    # replace the planes', or fail on their other number of axes)
    if volume:
        base = f"{name} supervoxels (3D)"
    elif len(full_shape) == 2:
        base = f"{name} superpixels"  # a single plane: nothing else to tell it from
    else:
        base = f"{name} superpixels (2D)"
    if sorted(kept) != spatial_axes[-need:]:  # not the layer's last axes: a layer of their own
        base += " [axes " + ", ".join(label_of(a) or str(a) for a in sorted(kept)) + "]"
    if chan is not None and (volume or len(full_shape) > 2):  # its name would meet the reading without channels
        base += f" [channels: {label_of(chan) or f'axis {chan}'}]"
    return Job(
        source=data, index=tuple(index), perm=tuple(perm),
        channel_axis=-1 if (rgb or chan is not None) else None,
        convert2lab=False if chan is not None or four_channels(layer) else None,
        spacing=spacing, kept=kept, out_shape=out_shape,
        layer_kwargs=_transforms(layer, nd, chan, np.zeros(nd) if in_place else fixed), where=where_text,
        name=base + (f" [{where_text}]" if where_text and not in_place else ""),
        source_name=name, full_shape=full_shape, region=region, in_place=in_place,
        source_id=layer_id(layer), position=tuple(fixed_at), channel=chan, source_shape=shape,
    )
