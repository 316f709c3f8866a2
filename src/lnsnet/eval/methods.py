"""Benchmark methods: their names, and a runner that scores them on a dataset's images.

A method is ``"lnsnet"`` (optionally with clustering options after colons, parsed by
:meth:`lnsnet.ClusterOptions.parse`: ``lnsnet:clustering=paper``, ``lnsnet:window=5``, and
``model=NAME`` for another model than the run's: ``lnsnet:model=none`` is the same
clustering on the CIELAB input, ``lnsnet:model=untrained`` the network before training;
each spelling is a method of its own in the rows) or a registered baseline
(:data:`lnsnet.eval.baselines.BASELINES`), optionally with its keyword arguments after
colons (``slic:compactness=20``, ``ers:lambda_prime=0.3``: a baseline tuned on val).
``lnsnet:boundaries=bright`` (or ``dark``, optionally ``:compactness=C``) is
``segment(..., boundaries=)``: images that show boundaries (cell walls, membranes),
flooded from the seed grid (:mod:`lnsnet.flood`); it runs no model.

On volumes (a :class:`~lnsnet.eval.datasets.VolumeFolderDataset`, ``lnsnet benchmark
--volume``) the methods are :func:`volume_methods`'s: ``lnsnet`` (the 3-D clustering,
:mod:`lnsnet.volume`; with the run's 3-D model file, if any), ``lnsnet:compactness=C``,
``lnsnet:model=none`` (the clustering on the input when the run has a model),
``lnsnet:boundaries=bright|dark[:compactness=C]`` and scikit-image's 3-D ``slic`` (and
``slic:KEY=VALUE``), each with the volume's voxel size.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..cluster import ClusterOptions
from .metrics import SCORE_KEYS
from ..errors import ArgumentTypeError

__all__ = ["known_methods", "display_name", "lnsnet_clustering", "lnsnet_model", "lnsnet_boundaries", "baseline_options",
           "check_methods", "volume_methods", "check_custom", "Precomputed", "MethodRunner"]

#: The baselines that run on volumes (scikit-image's 3-D slic).
VOLUME_BASELINES = ("slic",)


def known_methods() -> list[str]:
    """Names accepted as methods: ``"lnsnet"`` (which also takes clustering options after
    colons, see :func:`lnsnet_clustering`) and every registered baseline."""
    from .baselines import BASELINES

    return ["lnsnet"] + sorted(BASELINES)


#: How tables and plots name each method (the name given to ``--methods`` stays in summary.csv).
_DISPLAY = {"lnsnet": "LNS-Net", "slic": "SLIC", "slico": "SLICO", "cv_slic": "SLIC (OpenCV)",
            "cv_slico": "SLICO (OpenCV)", "lsc": "LSC", "seeds": "SEEDS", "snic": "SNIC",
            "felzenszwalb": "Felzenszwalb", "watershed": "Watershed", "ers": "ERS", "rim": "RIM",
            "ssn": "SSN", "fast_slic": "SLIC (fast_slic)"}
_LNSNET_WORDS = {("model", "none"): "no network", ("model", "untrained"): "untrained network",
                 ("clustering", "paper"): "paper's clustering", ("clustering", "compact"): "compact",
                 ("clustering", "fast"): "fast", ("boundaries", "bright"): "bright boundaries",
                 ("boundaries", "dark"): "dark boundaries"}


def display_name(method: str) -> str:
    """A method name as a table or a plot shows it: ``"slic:compactness=20"`` -> ``"SLIC
    (compactness 20)"``, ``"lnsnet:model=none:clustering=paper"`` -> ``"LNS-Net (no network,
    paper's clustering)"``; a name of your own is kept as it is."""
    head, *items = [p.strip() for p in method.split(":")]
    if head not in _DISPLAY:
        return method
    words = []
    for item in items:
        key, _, value = (p.strip() for p in item.partition("="))
        words.append(_LNSNET_WORDS.get((key, value)) if head == "lnsnet" else None)
        if words[-1] is None:
            words[-1] = f"{key} {value}" if value else key
    return _DISPLAY[head] + (f" ({', '.join(words)})" if words else "")


def lnsnet_clustering(name: str) -> ClusterOptions | None:
    """The clustering of an LNS-Net method name (``"lnsnet:clustering=paper:compactness=1"``),
    ``None`` when ``name`` is not an LNS-Net method; ``ValueError`` naming the method for
    bad options."""
    head, _, spec = name.partition(":")
    if head != "lnsnet":
        return None
    if lnsnet_boundaries(name) is not None:  # the flood: no clustering options (its own compactness)
        return ClusterOptions()
    items = [p for p in spec.split(":") if not p.strip().startswith("model=")]
    try:
        options = ClusterOptions.parse(":".join(items))
        if lnsnet_model(name) == "none" and options.seeds == "learned":
            raise ValueError("model=none has no network: it takes seeds=grid only")
        return options
    except (TypeError, ValueError) as exc:
        raise ValueError(f"method {name!r}: {exc}") from None


def lnsnet_boundaries(name: str) -> tuple[str, float | None] | None:
    """``"lnsnet:boundaries=bright:compactness=0.1"`` -> ``("bright", 0.1)``: the flood of a
    boundary image (:mod:`lnsnet.flood`; compactness None: its default); None when the name
    is not such a method; ``ValueError`` naming the method for bad options."""
    head, _, spec = name.partition(":")
    items = [p.strip() for p in spec.split(":") if p.strip()]
    if head != "lnsnet" or not any(p.startswith("boundaries=") for p in items):
        return None
    found: dict = {}
    for item in items:
        key, _, value = (p.strip() for p in item.partition("="))
        if key not in ("boundaries", "compactness"):
            raise ValueError(f"method {name!r}: boundaries= takes only compactness=C, got {item!r}")
        if key in found:
            raise ValueError(f"method {name!r}: option {key!r} given twice")
        found[key] = value
    if found["boundaries"] not in ("bright", "dark"):
        raise ValueError(f"method {name!r}: boundaries must be bright or dark, got {found['boundaries']!r}")
    return found["boundaries"], _compactness_option(name, found, minimum=0.0, strict=False)


def _compactness_option(name: str, found: dict, minimum: float, strict: bool) -> float | None:
    """The ``compactness=C`` of method ``name``'s options ``found`` as a number (None when
    not given); ``ValueError`` unless finite and ``>= minimum`` (``strict``: ``>``)."""
    if "compactness" not in found:
        return None
    try:
        c = float(found["compactness"])
    except ValueError:
        c = float("nan")
    if not ((c > minimum if strict else c >= minimum) and c < float("inf")):
        raise ValueError(f"method {name!r}: compactness must be a finite number {'>' if strict else '>='} "
                         f"{minimum:g}, got {found['compactness']!r}")
    return c


def lnsnet_model(name: str) -> str | None:
    """The model an LNS-Net method name asks for (``lnsnet:model=none``: ``"none"``), None
    for the run's model; ``ValueError`` for a model that is neither shipped nor a baseline."""
    from ..hub import BASELINE_MODELS, available_models

    models = [p.strip().partition("=")[2] for p in name.split(":")[1:] if p.strip().startswith("model=")]
    if len(models) > 1:
        raise ValueError("option 'model' given twice")
    if models and models[0] not in BASELINE_MODELS and models[0] not in available_models():
        raise ValueError(f"unknown model {models[0]!r} in a method name; allowed: "
                         f"{', '.join(sorted(BASELINE_MODELS) + available_models())} (a model file of your own: "
                         "-m FILE, model=FILE in Python, for the methods named lnsnet[:OPTIONS])")
    return models[0] if models else None


def baseline_options(name: str) -> tuple[str, dict] | None:
    """``"slic:compactness=20"`` -> ``("slic", {"compactness": 20.0})``: a registered baseline
    and its keyword arguments, each read by the type of its default (a default of None:
    ``none``, ``true``/``false``, an integer, a number, else the text); None when the
    name's head is not a baseline; ``ValueError`` naming the method for a bad option."""
    from .baselines import BASELINES

    import inspect

    head, *items = name.split(":")
    if head not in BASELINES:
        return None
    # no baseline's number is meaningful below 0 (a negative compactness was scored as given)
    checks = {p: (lambda v: isinstance(v, bool) or not isinstance(v, (int, float)) or v >= 0, "a number >= 0")
              for p in inspect.signature(BASELINES[head]).parameters}
    return head, _keyword_options(name, head, items, BASELINES[head], checks=checks)


def _keyword_options(name: str, head: str, items, fn, skip=(), checks=None) -> dict:
    """The ``KEY=VALUE`` options ``items`` of method ``name`` as ``fn``'s keyword-only
    arguments (``skip``: ones a user does not set), each read by the type of its default
    and finite; ``checks``: ``{key: (test, what)}`` a value must also pass. ``ValueError``
    naming the method otherwise."""
    import inspect
    import math

    params = {p.name: p.default for p in inspect.signature(fn).parameters.values()
              if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in skip}
    kwargs: dict = {}
    for item in (p.strip() for p in items if p.strip()):
        key, eq, value = (p.strip() for p in item.partition("="))
        if not eq or key not in params:
            raise ValueError(f"method {name!r}: {head} takes KEY=VALUE with KEY one of "
                             f"{', '.join(params) or '(none)'}, got {item!r}")
        if key in kwargs:
            raise ValueError(f"method {name!r}: option {key!r} given twice")
        default = params[key]
        try:
            kwargs[key] = _typed(value, default)
        except ValueError:
            raise ValueError(f"method {name!r}: {key}={value!r} is not a finite {type(default).__name__}") from None
        if isinstance(kwargs[key], float) and not math.isfinite(kwargs[key]):
            raise ValueError(f"method {name!r}: {key}={value!r} is not a finite {type(default).__name__}")
        ok, what = (checks or {}).get(key, (lambda v: True, ""))
        if not ok(kwargs[key]):
            raise ValueError(f"method {name!r}: {key} must be {what}, got {value!r}")
    return kwargs


def _typed(value: str, default):
    """``value`` read as the type of ``default`` (a default of None: the first that fits of
    none, true/false, int, float, text)."""
    low = value.lower()
    if isinstance(default, bool) or (default is None and low in ("true", "false")):
        if low not in ("true", "false"):
            raise ValueError(value)
        return low == "true"
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    if default is None:
        if low == "none":
            return None
        for kind in (int, float):
            try:
                return kind(value)
            except ValueError:
                pass
    return value


def check_methods(methods) -> list[str]:
    """``methods`` (a sequence, or comma-separated text) as a checked list of names."""
    if isinstance(methods, str):
        methods = methods.split(",")
    names = []
    for m in methods:  # the method's name is case-insensitive, its option values are not
        head, sep, rest = str(m).strip().partition(":")
        names.append(":".join(p.strip() for p in (head.lower() + sep + rest).split(":")) if head else "")
    names = [m for m in names if m]
    if not names:
        raise ValueError("methods is empty: name at least one method, e.g. 'lnsnet,slic'")
    known = known_methods()
    settings = [_setting(m) for m in names]  # None: not a method
    unknown = [m for m, s in zip(names, settings) if s is None]
    if unknown:
        hint = ""
        if any(m.partition(":")[0] == "fast_slic" for m in unknown):
            hint = " (fast_slic is not installed: pip install --no-build-isolation fast_slic)"
        raise ValueError(
            f"unknown method{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}"
            f"{hint}; known: {', '.join(known)}"
        )
    dup = sorted({m for m in names if names.count(m) > 1})
    if dup:
        raise ValueError(f"methods named more than once: {', '.join(dup)}")
    same = {}
    for m, s in zip(names, settings):  # two spellings of one setting ("compactness=20", "=20.0"): two rows of it
        if repr(s) in same:
            raise ValueError(f"methods {same[repr(s)]!r} and {m!r} are the same setting; name it once")
        same[repr(s)] = m
    return names


# slic's options on volumes: what each must be (scikit-image accepts some of these outside
# and returns one supervoxel)
_SLIC_CHECKS = {
    "compactness": (lambda v: v > 0, "a finite number > 0"),
    "sigma": (lambda v: v >= 0, "a finite number >= 0"),
    "max_num_iter": (lambda v: v >= 1, "an integer >= 1"),
    "min_size_factor": (lambda v: v >= 0, "a finite number >= 0"),
    "max_size_factor": (lambda v: v > 0, "a finite number > 0"),
}


def _volume_setting(name: str, has_model: bool = False):
    """What method ``name`` runs on a volume (see :func:`volume_methods`), every option
    spelled out (so two names of one setting compare equal); ``has_model``: the run has a
    3-D model file, which ``lnsnet`` uses and ``lnsnet:model=none`` does not. ``ValueError``
    naming the method for what does not run on volumes."""
    import inspect

    from .volumes import slic_volume

    flood = lnsnet_boundaries(name)
    if flood is not None:
        from ..flood import DEFAULTS as FLOOD

        return ("boundaries", flood[0], FLOOD["compactness"] if flood[1] is None else flood[1])
    head, _, spec = name.partition(":")
    if head == "lnsnet":
        found: dict = {}
        for item in (p.strip() for p in spec.split(":") if p.strip()):
            key, eq, value = (p.strip() for p in item.partition("="))
            if not eq or key not in ("compactness", "model"):
                raise ValueError(f"method {name!r}: on volumes lnsnet takes compactness=C, model=none or "
                                 f"boundaries=bright|dark, got {item!r}")
            if key in found:
                raise ValueError(f"method {name!r}: option {key!r} given twice")
            found[key] = value
        if "model" in found and found["model"] != "none":
            raise ValueError(f"method {name!r}: on volumes model= takes only 'none' (a 3-D model file is the run's "
                             "model: --model FILE)")
        c = _compactness_option(name, found, minimum=0.0, strict=True)
        from ..volume import DEFAULTS as VOLUME

        return ("volume", has_model and found.get("model") != "none", VOLUME["compactness"] if c is None else c)
    if head in VOLUME_BASELINES:
        skip = ("spacing", "channel_axis")
        kwargs = _keyword_options(name, head, spec.split(":"), slic_volume, skip, _SLIC_CHECKS)
        params = {p.name: p.default for p in inspect.signature(slic_volume).parameters.values()
                  if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in skip}
        return (head, tuple(sorted({**params, **kwargs}.items())))  # every option spelled out
    raise ValueError(f"method {name!r} does not run on volumes; on volumes: lnsnet, lnsnet:compactness=C, "
                     "lnsnet:model=none, lnsnet:boundaries=bright|dark[:compactness=C], slic[:KEY=VALUE]")


def volume_methods(methods, has_model: bool = False) -> list[str]:
    """``methods`` (a sequence, or comma-separated text) checked for volumes: ``lnsnet``
    (the 3-D clustering, with the run's 3-D model if any: ``has_model``),
    ``lnsnet:compactness=C``, ``lnsnet:model=none``,
    ``lnsnet:boundaries=bright|dark[:compactness=C]`` and ``slic`` (scikit-image's 3-D
    slic) with its keyword arguments after colons. Two names of one setting are refused."""
    if isinstance(methods, str):
        methods = methods.split(",")
    names = []
    for m in methods:
        head, sep, rest = str(m).strip().partition(":")
        names.append(":".join(p.strip() for p in (head.lower() + sep + rest).split(":")) if head else "")
    names = [m for m in names if m]
    if not names:
        raise ValueError("methods is empty: name at least one method, e.g. 'lnsnet,slic'")
    dup = sorted({m for m in names if names.count(m) > 1})
    if dup:
        raise ValueError(f"methods named more than once: {', '.join(dup)}")
    same = {}
    for m in names:
        key = repr(_volume_setting(m, has_model))
        if key in same:
            raise ValueError(f"methods {same[key]!r} and {m!r} are the same setting; name it once")
        same[key] = m
    return names


def _setting(name: str):
    """What method ``name`` runs: a baseline and its options, or the model and clustering
    of an LNS-Net method; None when ``name`` is not a method."""
    flood = lnsnet_boundaries(name)
    if flood is not None:
        return ("boundaries",) + flood
    clustering = lnsnet_clustering(name)
    return baseline_options(name) if clustering is None else (lnsnet_model(name), clustering)


#: Label-file extensions of a precomputed method's folder, in the order looked for.
PRECOMPUTED_EXTENSIONS = (".npy", ".png", ".tif", ".tiff", ".csv", ".nii.gz", ".nii")


class Precomputed:
    """A method whose label maps were made elsewhere (your own method, another tool): for
    image (or volume) ``stem`` at K ``k`` the file ``folder/<k>/<stem><ext>``, ``ext`` one
    of :data:`PRECOMPUTED_EXTENSIONS` (``.csv``: comma-separated integers, one row of the
    image a line, as Stutz et al.'s benchmark writes them). Its time is not measured (NaN)."""

    def __init__(self, folder) -> None:
        self.folder = Path(folder).expanduser()
        if not self.folder.is_dir():
            raise FileNotFoundError(f"precomputed labels folder not found: {self.folder}")

    def __repr__(self) -> str:
        return f"Precomputed({str(self.folder)!r})"

    def path(self, stem: str, k: int) -> Path:
        found = [self.folder / str(k) / f"{stem}{ext}" for ext in PRECOMPUTED_EXTENSIONS]
        found = [f for f in found if f.is_file()]
        if len(found) != 1:
            raise FileNotFoundError(
                f"{'several' if found else 'no'} label file(s) for {stem!r} at K={k} in {self.folder / str(k)}"
                f" (looked for {stem}{{{','.join(PRECOMPUTED_EXTENSIONS)}}})")
        return found[0]

    def labels(self, stem: str, k: int, volume: bool) -> np.ndarray:
        path = self.path(stem, k)
        if volume:
            from .datasets import _read_label_volume

            return _read_label_volume(path)
        if path.suffix.lower() == ".csv":
            try:
                return np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)
            except ValueError as exc:
                raise ValueError(f"cannot read CSV label map {path}: {exc}") from None
        from .datasets import read_label_file

        maps = read_label_file(path)
        if len(maps) != 1:
            raise ValueError(f"{path} holds {len(maps)} label maps; a method's output is one")
        return maps[0]


def check_custom(custom, names: list[str], picklable: bool) -> dict:
    """``custom`` (``{name: callable or folder}``) checked: names that are not taken by a
    method of the run or a known method, no ``:`` or ``,``; a folder becomes a
    :class:`Precomputed`; with ``picklable`` (worker processes, Ray) every callable must
    pickle (a function defined at the top level of a module or script)."""
    import pickle

    out = {}
    for name, fn in dict(custom or {}).items():
        name = str(name).strip()
        if not name or any(c in name for c in ":,|\n\r"):
            raise ValueError(f"custom method name {name!r}: give a name without ':', ',' or '|'")
        taken = {m.lower() for m in known_methods()} | {m.lower() for m in names} | {m.lower() for m in out}
        if name.lower() in taken:
            raise ValueError(f"custom method name {name!r} is taken by a method of lnsnet or of this run (names are "
                             "compared without case)")
        if isinstance(fn, (str, Path)) or hasattr(fn, "__fspath__"):
            fn = Precomputed(fn)
        elif not callable(fn) and not isinstance(fn, Precomputed):
            raise ArgumentTypeError(f"custom method {name!r} must be a callable fn(image, k) -> labels or a folder of label "
                            f"maps, got {type(fn).__name__}")
        if picklable and not isinstance(fn, Precomputed):
            why = None
            try:
                pickle.dumps(fn)
            except Exception as exc:  # noqa: BLE001 - any pickling failure
                why = str(exc)
            if why is None:
                why = _not_in_a_spawned_main(fn)
            if why is not None:
                raise ValueError(f"custom method {name!r} cannot be sent to worker processes ({why}): define it at "
                                 "the top level of a module or script, outside `if __name__ == \"__main__\":` "
                                 "(not a lambda, a local function or a notebook cell), or run with workers=0") from None
        out[name] = fn
    return out


def _not_in_a_spawned_main(fn) -> str | None:
    """Why a function of ``__main__`` would not be found by spawned workers, which import the
    main script without running its ``if __name__ == "__main__":`` block: None when it is
    defined at the top level of that script's file."""
    import ast
    import sys

    target = getattr(fn, "func", fn)  # a functools.partial: its function
    if getattr(target, "__module__", None) != "__main__":
        return None
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not path:
        return "it is defined in an interactive session or notebook, which the workers cannot import"
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    top = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    name = getattr(target, "__qualname__", "").split(".")[0]
    if name and name not in top:
        return f"{name} is not defined at the top level of {path}"
    return None


def describe_custom(custom: dict) -> dict:
    """``{name: what}`` for the run's settings: a folder's path or a function's name (a
    ``functools.partial``: its function and arguments)."""
    def what(fn):
        if isinstance(fn, Precomputed):
            return f"labels in {fn.folder.resolve()}"
        target = getattr(fn, "func", fn)
        text = f"function {getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', type(target).__name__)}"
        if target is not fn:
            text += f" with {getattr(fn, 'args', ())!r} {getattr(fn, 'keywords', {})!r}"
        return text

    return {name: what(fn) for name, fn in custom.items()}


class MethodInputError(RuntimeError, ValueError):
    """A method failed on a benchmark's image or volume for a reason of the input (a
    ``ValueError``, ``TypeError`` or ``OSError`` inside it): the message names the method,
    K and the file."""


class MethodRunner:
    """Runs methods on the images of a dataset ``ds`` and scores them: one row per
    (method, K). Each method is set up once (the LNS-Net model loaded once); with
    ``warmup``, one untimed call per method precedes its first timed call. Times are
    ``time.perf_counter()`` around the method call only.
    """

    def __init__(self, ds, methods: list[str], model, r: int, warmup: bool, custom: dict | None = None) -> None:
        self.ds, self.r, self.warmup = ds, r, warmup
        self.warm: set[str] = set()
        self.funcs = {}
        self.volume = bool(getattr(ds, "volume", False))
        custom = custom or {}
        for name in methods:
            if name in custom:
                self.funcs[name] = _custom_function(custom[name], self.volume, name)
        methods = [m for m in methods if m not in custom]
        if self.volume:
            self.funcs.update({name: _volume_function(name, model) for name in methods})
            return
        for name in methods:
            flood = lnsnet_boundaries(name)
            clustering = lnsnet_clustering(name)
            if flood is not None:
                from ..inference import segment

                def _flood(image, k, _b=flood[0], _c=flood[1]):
                    return segment(image, k, boundaries=_b, compactness=_c, start_label=0, channel_axis=-1)

                self.funcs[name] = _flood
            elif clustering is not None:
                from ..hub import load_model
                from ..inference import segment

                net = load_model(lnsnet_model(name) or model)

                def _lns(image, k, _net=net, _clustering=clustering):
                    return segment(image, k, model=_net, clustering=_clustering, start_label=0, channel_axis=-1)

                self.funcs[name] = _lns
            else:
                import functools

                from .baselines import get_method

                head, kwargs = baseline_options(name)
                self.funcs[name] = functools.partial(get_method(head), **kwargs)

    def run(self, index: int, todo: list[tuple[str, int]]) -> list[dict]:
        """Run the (method, K) pairs ``todo`` on image ``index``; one row each."""
        from .metrics import score

        sample = self.ds[index]
        rows = []
        extra = {"spacing": sample.spacing} if self.volume else {}
        for method, k in todo:
            fn = self.funcs[method]
            try:
                if isinstance(fn, Precomputed):  # made elsewhere: read, not timed
                    labels = _finish(fn.labels(sample.name, k, self.volume), sample.image, self.volume, method)
                    dt = float("nan")
                else:
                    if self.warmup and method not in self.warm:
                        fn(sample.image, k, **extra)
                    t0 = time.perf_counter()
                    labels = fn(sample.image, k, **extra)
                    dt = time.perf_counter() - t0
                self.warm.add(method)
                if self.volume:
                    from .volumes import score_volume_row

                    s = score_volume_row(labels, sample.ground_truths[0], volume=sample.image, r=self.r,
                                         ignore=getattr(self.ds, "ignore_label", None), spacing=sample.spacing)
                else:
                    s = score(labels, sample.ground_truths, image=sample.image, r=self.r,
                              ignore=getattr(self.ds, "ignore_label", None))
            except Exception as exc:
                what = "volume" if self.volume else "image"
                message = f"{method} with K={k} on {what} {sample.name!r} ({sample.path}) failed: " \
                          f"{type(exc).__name__}: {exc}"
                if isinstance(exc, (ValueError, TypeError, OSError)):  # the input's fault: said as such
                    raise MethodInputError(message) from exc
                raise RuntimeError(message) from exc
            row = {"method": method, "k_asked": k, "image": sample.name,
                   "k_delivered": int(s["n_segments"]), "time_s": dt}  # fmt: skip
            for key in SCORE_KEYS:
                v = s[key]
                row[key] = int(v) if key.startswith("n_") else v
            rows.append(row)
        return rows


def _volume_function(name: str, model):
    """``fn(volume, k, spacing=...)`` for method ``name`` on volumes (labels from 0)."""
    from ..inference import segment

    setting = _volume_setting(name, model is not None)

    def channels(volume):
        return None if volume.ndim == 3 else -1

    if setting[0] == "boundaries":
        def _flood(volume, k, spacing, _b=setting[1], _c=setting[2]):
            return segment(volume, k, boundaries=_b, compactness=_c, spacing=spacing, channel_axis=channels(volume),
                           start_label=0)
        return _flood
    if setting[0] == "volume":
        net = None
        if setting[1]:  # the run's 3-D model
            from ..volume_model import load_volume_model

            net = load_volume_model(model)

        def _lns(volume, k, spacing, _c=setting[2], _net=net):
            return segment(volume, k, compactness=_c, spacing=spacing, channel_axis=channels(volume), model=_net,
                           start_label=0)
        return _lns
    from .volumes import slic_volume

    kwargs = dict(setting[1])  # every option, the defaults spelled out

    def _slic(volume, k, spacing, _kw=kwargs):
        return slic_volume(volume, k, spacing=spacing, channel_axis=channels(volume), **_kw)
    return _slic


def _finish(labels, image, volume: bool, method: str):
    """A custom method's labels checked against the image's shape and, on images, one
    label per 4-connected piece, as the classic methods' adapters give them
    (:func:`lnsnet.eval.baselines.finalize_labels`)."""
    want = image.shape[:3] if volume else image.shape[:2]
    if np.shape(labels) != want:
        raise ValueError(f"method {method!r} gave labels of shape {np.shape(labels)} for an "
                         f"{'volume' if volume else 'image'} of shape {want}")
    if volume:
        return labels
    from .baselines import finalize_labels

    return finalize_labels(labels)


def _custom_function(fn, volume: bool, name: str = "custom"):
    """A custom method as the runner calls it: a :class:`Precomputed` as it is; a callable
    ``fn(image, k)`` (volumes: ``fn(volume, k, spacing=...)``), given a read-only view of
    the image (the next call and the scores see it unchanged), its output :func:`_finish`-ed."""
    if isinstance(fn, Precomputed):
        return fn

    def _run(image, k, spacing=None, _fn=fn):
        view = image.view()
        view.flags.writeable = False
        labels = np.asarray(_fn(view, k, spacing=spacing) if volume else _fn(view, k))
        if labels.dtype.kind not in "biu":
            raise ArgumentTypeError(f"custom method {name!r} must return integer labels, got {labels.dtype}")
        return _finish(labels, image, volume, name)
    return _run
