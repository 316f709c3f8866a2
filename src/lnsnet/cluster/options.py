"""How pixels are clustered around the seeds: one frozen options object, its presets and
every rule about which options go together.

The API (``segment(..., clustering=...)``), the command line (``lnsnet segment
--clustering SPEC``) and benchmark method names (``lnsnet:KEY=VALUE:...``) all build a
:class:`ClusterOptions` here (:meth:`ClusterOptions.of`, :meth:`~ClusterOptions.parse`,
:meth:`~ClusterOptions.resolve`); nothing else resolves clustering options.
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from ..errors import ArgumentTypeError, bad_argument

__all__ = ["ClusterOptions", "PRESETS", "DEFAULT_PRESET"]

#: The presets, by name. ``"fast"`` (the default since 2026-12-05): the compact
#: clustering on the network's input and its contour head, the feature embedder not run:
#: shapes as compact as LSC's, about half the time of ``"compact"``, level with it on
#: BSDS500 and more boundary recall on SBD and DSB2018 (chosen on val, ``docs/learning.md``,
#: "The head on the input alone" and "The blur's ramps at sharp junctions").
#: ``"compact"``: the same clustering on the feature embedder's output beside the input
#: (the default until 2026-12-05, ``docs/compactness.md``).
#: ``"paper"``: the paper's one-shot clustering, the highest boundary recall, ragged shapes.
#: Read-only: change a preset's value through the options, not here.
PRESETS = MappingProxyType({
    "compact": MappingProxyType(dict(features="learned", compactness=24.0, edge_scale=2.0, iterations=5,
                                     smoothing=6.0, feature_contrast=4.0, input_weight=2.5, blur=0.8, contour=4.0)),
    "fast": MappingProxyType(dict(features="input", compactness=32.0, edge_scale=2.0, iterations=5,
                                  smoothing=6.0, feature_contrast=4.0, input_weight=2.5, blur=0.8, contour=6.0)),
    "paper": MappingProxyType(dict(features="learned", compactness=0.0, edge_scale=0.0, iterations=0,
                                   smoothing=0.0, feature_contrast=0.0, input_weight=0.0, blur=0.0, contour=0.0)),
})
DEFAULT_PRESET = "fast"

_CHOICES = {"mode": ("local", "dense"), "seeds": ("grid", "learned"), "features": ("learned", "input")}


def _nonneg(name: str, value, note: str = "") -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
        raise bad_argument(value, numbers.Real,
                           f"{name} must be a finite number >= 0{note}, got {value!r}")
    return float(value)


def _count(name: str, value, minimum: int, note: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise bad_argument(value, numbers.Integral,
                           f"{name} must be an integer >= {minimum}{note}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class ClusterOptions:
    """How :func:`lnsnet.segment` clusters pixels around the seeds and cleans the result.

    Build one from a preset with :meth:`resolve` (or :meth:`parse` for a text spec);
    constructing it directly takes the default preset's values for the fields left out.
    Every field is checked on construction (``ValueError`` naming the field).

    Attributes
    ----------
    mode : {"local", "dense"}
        ``local`` compares each pixel with the seeds of the ``window x window`` grid cells
        around its own (O(N)); ``dense`` with all K seeds (O(NK)), as in the paper; dense
        mode is the paper's one-shot clustering and takes ``compactness`` only.
    seeds : {"grid", "learned"}
        ``grid`` clusters around the cell centres; ``learned`` moves each seed by the
        seed estimation layer (SEL), which scored lower on BSDS500 val.
    features : {"learned", "input"}
        What the clustering distance reads: ``learned``, the feature embedder's output
        (FEM); ``input``, the network's input in its place (the standardised CIELAB, as
        ``model="none"`` does), so the embedder is not run and the model's contour head is
        the learned part that the clustering uses (``docs/learning.md``).
    compactness : float
        Weight of the spatial distance to the seed (in grid steps, squared) added to the
        feature distance: larger gives more regular shapes and less boundary recall.
    edge_scale : float
        Local mode: the spatial weight at a pixel is ``compactness * exp(-g / edge_scale)``,
        ``g`` the pixel's largest squared CIELAB step to a 4-neighbour over the image mean
        of it: regular shapes in flat regions, borders free at colour edges (0: off).
    iterations : int
        Local mode: SLIC-style rounds before the final assignment, each moving every seed
        to the mean feature and position of its pixels (0: the paper's one shot).
    smoothing : float
        Local mode: weight of a contrast-sensitive Potts term minimised by
        :data:`SMOOTHING_SWEEPS` ICM sweeps after the assignment, in units of the image's
        median pixel-to-seed distance; straightens ragged borders (0: off).
    feature_contrast : float
        With ``smoothing``: the Potts contrast is measured on CIELAB plus the learned
        features, each over its standard deviation on the image, all together weighted
        by ``feature_contrast`` (0: CIELAB only). Needs ``smoothing > 0``.
    input_weight : float
        The network's input (standardised CIELAB, or the image's channels, on one common
        scale: :func:`lnsnet.features.colour_scale_of`) joins the
        learned features in the clustering distance with this weight: the network brings
        context, the input the pixel-exact detail the network's receptive field blurs on
        small structures (0: the learned features alone).
    blur : float
        A Gaussian of this many pixels on the image before the network and the clustering,
        on top of ``segment``'s ``sigma`` (the two combine as ``sqrt(sigma**2 + blur**2)``
        per axis, in pixels: a scalar ``sigma`` over the ``spacing``), at most 1/8 of the
        superpixels' side (:data:`lnsnet.prepare.BLUR_PER_SIDE`); inside a ``mask``
        normalised by the mask. The compact preset's keeps the compactness from being spent
        on pixel noise (``docs/compactness.md``; 0: off).
    contour : float
        Local mode, with a model that has a contour head (:class:`lnsnet.model.contour.ContourHead`,
        learned without labels): the spatial term at a pixel is also multiplied by
        ``exp(-contour * B)`` over its image mean, ``B`` in [0, 1] the head's contour map,
        so borders follow the contours it sees and flat parts stay compact (0: off;
        ignored for a model without a head, such as ``model="none"``).
    window : int
        Local mode: side, in grid cells, of the neighbourhood searched (odd).
    min_size_factor : float
        Pieces smaller than this fraction of the mean superpixel size are merged into
        their most similar neighbour.
    orphan_factor : float
        Pieces of a cluster other than its largest, smaller than this fraction of the mean
        size, are merged too (0: off).
    max_excess : float
        At most about ``(1 + max_excess) * seeds`` superpixels are delivered: the smallest
        pieces are merged beyond that (``inf``: no cap).
    """

    mode: str = "local"
    seeds: str = "grid"
    features: str = PRESETS[DEFAULT_PRESET]["features"]
    compactness: float = PRESETS[DEFAULT_PRESET]["compactness"]
    edge_scale: float = PRESETS[DEFAULT_PRESET]["edge_scale"]
    iterations: int = PRESETS[DEFAULT_PRESET]["iterations"]
    smoothing: float = PRESETS[DEFAULT_PRESET]["smoothing"]
    feature_contrast: float = PRESETS[DEFAULT_PRESET]["feature_contrast"]
    input_weight: float = PRESETS[DEFAULT_PRESET]["input_weight"]
    blur: float = PRESETS[DEFAULT_PRESET]["blur"]
    contour: float = PRESETS[DEFAULT_PRESET]["contour"]
    window: int = 3
    min_size_factor: float = 0.25
    orphan_factor: float = 0.0
    max_excess: float = 0.1

    #: ICM sweeps of the smoothing (a constant of the algorithm, not an option)
    SMOOTHING_SWEEPS = 5

    def __post_init__(self):
        put = object.__setattr__  # frozen: the checked values replace the given ones
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; allowed: {', '.join(map(repr, allowed))}")
            put(self, name, str(getattr(self, name)))
        put(self, "compactness", _nonneg("compactness", self.compactness))
        put(self, "edge_scale", _nonneg("edge_scale", self.edge_scale, " (0: off)"))
        put(self, "iterations", _count("iterations", self.iterations, 0))
        put(self, "smoothing", _nonneg("smoothing", self.smoothing, " (0: off)"))
        put(self, "feature_contrast", _nonneg("feature_contrast", self.feature_contrast, " (0: off)"))
        put(self, "input_weight", _nonneg("input_weight", self.input_weight, " (0: off)"))
        put(self, "blur", _nonneg("blur", self.blur, " (pixels; 0: off)"))
        put(self, "contour", _nonneg("contour", self.contour, " (0: off)"))
        w = self.window
        if isinstance(w, bool) or not isinstance(w, numbers.Integral) or w < 1 or w % 2 == 0:
            raise ValueError(f"window must be a positive odd integer (cells), got {w!r}")
        put(self, "window", int(w))
        put(self, "min_size_factor", _nonneg("min_size_factor", self.min_size_factor))
        put(self, "orphan_factor", _nonneg("orphan_factor", self.orphan_factor, " (0: off)"))
        if self.max_excess != float("inf"):
            put(self, "max_excess", _nonneg("max_excess", self.max_excess, " (inf: no cap)"))
        put(self, "max_excess", float(self.max_excess))
        if self.mode == "dense" and (self.refines or self.contour > 0):
            raise ValueError("edge_scale, iterations, smoothing, feature_contrast and contour need mode='local' (dense mode "
                             "is the paper's one-shot clustering and takes compactness only: "
                             "ClusterOptions.resolve('paper', mode='dense'), spec 'paper:mode=dense')")
        if self.features == "input" and self.seeds == "learned":
            raise ValueError("seeds='learned' reads the learned features: it needs features='learned'")
        if self.feature_contrast > 0 and self.smoothing == 0:
            raise ValueError("feature_contrast weighs the smoothing's contrast: it needs smoothing > 0 (the "
                             "compact preset's 6, or a smoothing value)")

    # ------------------------------------------------------------------ building
    @classmethod
    def of(cls, clustering=None, **overrides) -> "ClusterOptions":
        """The options :func:`lnsnet.segment` and the command line use: ``clustering``
        (None, a preset name or spec for :meth:`parse`, or a ``ClusterOptions``) with
        ``overrides`` (fields; None values ignored) applied over it: a keyword given beside
        a spec wins over the spec's value for it."""
        if clustering is None or isinstance(clustering, str):
            return cls.resolve(**{**cls.parse_items(clustering or ""),
                                  **{k: v for k, v in overrides.items() if v is not None}})
        if isinstance(clustering, ClusterOptions):
            return clustering.replace(**overrides)
        raise ArgumentTypeError(f"clustering must be a preset name, a spec string or lnsnet.ClusterOptions, "
                        f"got {type(clustering).__name__}")

    @classmethod
    def resolve(cls, preset: str | None = None, **options) -> "ClusterOptions":
        """The options of ``preset`` (``"fast"``, ``"compact"`` or ``"paper"``; None: ``"fast"``, the
        default, in local mode, ``"paper"`` in dense mode) with ``options`` (fields; None values are
        left out) given beside it winning. A preset's ``feature_contrast`` is dropped when
        ``smoothing`` is set to 0 (it only weighs the smoothing); one given explicitly is
        refused then. ``seeds="learned"`` takes ``features="learned"`` unless ``features`` is
        given (and ``"input"`` is refused then)."""
        options = cls._given(options)
        if preset is None:
            preset = "paper" if options.get("mode") == "dense" else DEFAULT_PRESET
        if preset not in PRESETS:
            raise ValueError(f"unknown clustering preset {preset!r}; allowed: {', '.join(map(repr, PRESETS))}")
        return cls(**_drop_idle_contrast(dict(PRESETS[preset]), options))

    @classmethod
    def parse(cls, spec: str) -> "ClusterOptions":
        """Options from a text spec: colon-separated items, each a preset name (or
        ``clustering=NAME``) or ``KEY=VALUE`` for a field, e.g. ``"paper"``,
        ``"compactness=2:window=5"``, ``"clustering=paper:mode=dense"``. Values are read
        by the field's type; the result is :meth:`resolve`'s."""
        return cls.resolve(**cls.parse_items(spec))

    @classmethod
    def parse_items(cls, spec: str) -> dict:
        """``spec`` (see :meth:`parse`) as keyword arguments of :meth:`resolve`, values
        converted by the field's type (``ValueError`` naming the item otherwise)."""
        if not isinstance(spec, str):
            raise ArgumentTypeError(f"a clustering spec must be a string, got {type(spec).__name__}")
        kinds = {f.name: f.type for f in dataclasses.fields(cls)}
        out: dict = {}
        for item in (p.strip() for p in spec.split(":")):
            if not item:
                continue
            key, eq, value = (p.strip() for p in item.partition("="))
            if not eq and key in kinds:
                raise ValueError(f"clustering option {key!r} in {spec!r} needs a value: {key}=VALUE")
            if not eq or key == "clustering":
                key, value = "preset", value if eq else key
            elif key not in kinds:
                raise ValueError(f"unknown clustering option {key!r} in {spec!r}; allowed: a preset "
                                 f"({', '.join(PRESETS)}) or KEY=VALUE with KEY one of {', '.join(kinds)}")
            if key in out:
                what = "a preset" if key == "preset" else f"clustering option {key!r}"
                raise ValueError(f"{what} given twice in {spec!r}")
            out[key] = _convert(key, value, kinds.get(key, "str"), spec)
        return out

    def replace(self, **options) -> "ClusterOptions":
        """A copy with ``options`` changed (None values ignored), checked again; as in
        :meth:`resolve`, turning ``smoothing`` off drops a ``feature_contrast`` not given."""
        options = self._given(options)
        if not options:
            return self
        return type(self)(**_drop_idle_contrast(dataclasses.asdict(self), options))

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def _given(cls, options: dict) -> dict:
        """``options`` without its None values; ``TypeError`` naming any that is not a field."""
        options = {k: v for k, v in options.items() if v is not None}
        unknown = sorted(set(options) - set(cls.field_names()))
        if unknown:
            raise ArgumentTypeError(f"unknown clustering option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                            f"allowed: {', '.join(cls.field_names())}")
        return options

    # ------------------------------------------------------------------ rules
    @property
    def refines(self) -> bool:
        """Whether any of the compact clustering's steps (edge-aware weight, seed rounds,
        smoothing, contours) is on: those run in :mod:`lnsnet.cluster.local` on the CPU and in
        :mod:`lnsnet.cluster.gpu` on a GPU."""
        return bool(self.edge_scale > 0 or self.iterations > 0 or self.smoothing > 0 or self.feature_contrast > 0
                    or self.contour > 0)

    @property
    def uses_feature_contrast(self) -> bool:
        """Whether the smoothing's contrast reads the learned features."""
        return self.smoothing > 0 and self.feature_contrast > 0

    def on_cpu(self, device_type: str) -> bool:
        """Whether the compiled CPU algorithm clusters: local mode on the CPU. Elsewhere
        torch on the device: the compact clustering's steps (:mod:`lnsnet.cluster.gpu`) or,
        without them, :mod:`lnsnet.cluster.layer` (dense mode, or local mode with
        compactness only)."""
        return self.mode == "local" and device_type == "cpu"

    def max_segments(self, n_seeds: int) -> int | None:
        """The cap on the number of superpixels delivered for ``n_seeds`` seeds."""
        return None if self.max_excess == float("inf") else max(1, int(round(n_seeds * (1.0 + self.max_excess))))

    def spec(self) -> str:
        """The options as a spec :meth:`parse` reads back to an equal object."""
        return ":".join(f"{f.name}={getattr(self, f.name)}" for f in dataclasses.fields(self))


def _drop_idle_contrast(values: dict, options: dict) -> dict:
    """``values`` updated with ``options``; a ``feature_contrast`` not among ``options`` is
    dropped (0) when the smoothing it weighs ends up off, and ``features`` not among them
    is ``"learned"`` with learned seeds."""
    values.update(options)
    if "feature_contrast" not in options and values.get("smoothing") == 0:
        values["feature_contrast"] = 0.0
    if "features" not in options and values.get("seeds") == "learned":
        values["features"] = "learned"  # learned seeds read the learned features
    return values


def _convert(key: str, value: str, kind, spec: str):
    """``value`` (text) as the type of field ``key``."""
    kind = str(kind)
    if key == "preset" or key in _CHOICES:
        return value
    try:
        if "int" in kind:
            return int(value)
        return float(value)
    except ValueError:
        what = "an integer" if "int" in kind else "a number"
        raise ValueError(f"clustering option {key}={value!r} in {spec!r} is not {what}") from None
