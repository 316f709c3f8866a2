"""Shipped models: their names, checksums, and :func:`load_model`."""

from __future__ import annotations

import copy
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Union

import torch

from . import checkpoint
from .errors import ArgumentTypeError
from .model import LNSNet
from .model.embedder import InputEmbedder

__all__ = ["load_model", "available_models", "resolve_model", "model_record", "as_device", "baseline_model",
           "is_input_only", "input_features", "WEIGHTS_DIR", "DEFAULT_MODEL", "BASELINE_MODELS"]

WEIGHTS_DIR = Path(__file__).parent / "weights"
DEFAULT_MODEL = "bsds500"
_NOT_LNSNET = {"ssn_bsds500"}  # weights of the SSN baseline (lnsnet.eval.ssn), not an LNS-Net model
#: models that are not trained weights: the measuring sticks of what training adds
BASELINE_MODELS = {
    "none": "no network: the clustering runs on the standardised CIELAB input itself",
    "untrained": "the network at its seed-0 initialisation, never trained",
}
UNTRAINED_SEED = 0


def baseline_model(name: str) -> LNSNet:
    """``"none"``: an LNS-Net whose embedder returns its input's CIELAB channels (no seed
    layer to use: grid seeds only; no contour head); ``"untrained"``: the network initialised from a
    generator seeded with :data:`UNTRAINED_SEED`."""
    if name not in BASELINE_MODELS:
        raise ValueError(f"unknown baseline model {name!r}; allowed: {', '.join(BASELINE_MODELS)}")
    from .train import new_model

    net = new_model(UNTRAINED_SEED)
    if name == "none":
        net.embedder = InputEmbedder(3)
        net.contour_head = None  # no network at all: no learned contours either
    return net.eval()


def input_features(net: LNSNet) -> LNSNet:
    """A light copy of ``net`` whose feature embedder is its input (as ``"none"``), every
    other part (seed layer, contour head) the very same module: the model that
    :attr:`lnsnet.ClusterOptions.features` ``"input"`` clusters with. For inference:
    moving or training it moves or trains those shared parts of ``net`` too (deep-copy it
    first, as ``segment(..., adapt=n)`` does)."""
    if is_input_only(net):
        return net
    return with_embedder(net, InputEmbedder(3))


def with_embedder(net: LNSNet, embedder: torch.nn.Module) -> LNSNet:
    """A light copy of ``net`` with ``embedder`` in place of its own: every other module
    is the very same object (its own dicts of modules, parameters and buffers, so moving
    the copy leaves ``net``'s memory buffer as it was). For :func:`input_features` and
    :func:`lnsnet.backends.with_backend`."""
    twin = copy.copy(net)
    twin._modules = dict(net._modules)
    twin._parameters, twin._buffers = dict(net._parameters), dict(net._buffers)
    twin._modules["embedder"] = embedder
    return twin


def is_input_only(net: LNSNet) -> bool:
    """Whether ``net`` is the ``"none"`` model (no learned features, no seed layer)."""
    return isinstance(net.embedder, InputEmbedder)


def available_models() -> list[str]:
    """Names of the LNS-Net models shipped with the package."""
    return sorted(p.stem for p in WEIGHTS_DIR.glob("*.pt") if p.stem not in _NOT_LNSNET)


def as_device(device) -> torch.device:
    """``device`` (None: the CPU) as a torch device; ``ValueError`` for anything but a CPU or
    CUDA device, and for CUDA without a GPU."""
    if device is None:
        return torch.device("cpu")
    if isinstance(device, bool) or not isinstance(device, (str, torch.device, int)):  # an int: cuda:N, as torch
        raise ArgumentTypeError(f"device must be 'cpu' or 'cuda' (or 'cuda:N'), got {device!r}")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'cpu' or 'cuda' (or 'cuda:N'), got {device!r}") from None
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda' (or 'cuda:N'), got {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but no CUDA GPU is available")
    return dev


def _checked_sha256(name: str) -> str:
    """The sha256 of the shipped model ``name``, checked against its card's record."""
    path = WEIGHTS_DIR / f"{name}.pt"
    actual = checkpoint.sha256(path)
    meta = WEIGHTS_DIR / f"{name}.json"
    expected = json.loads(meta.read_text(encoding="utf-8")).get("sha256") if meta.is_file() else None
    if expected and expected != actual:
        raise ValueError(f"shipped model {path} fails its checksum (sha256 {actual}, expected {expected}); "
                         "reinstall lnsnet")
    return actual


@lru_cache(maxsize=8)
def _load_named(name: str, device: str = "cpu") -> LNSNet:
    """The shipped or baseline model ``name`` on ``device``, checksum-verified, cached (do
    not modify)."""
    if name in BASELINE_MODELS:
        with torch.random.fork_rng(devices=[]):  # the host's random numbers untouched
            return baseline_model(name).float().to(device)
    _checked_sha256(name)
    return checkpoint.model_from_payload(checkpoint.load(WEIGHTS_DIR / f"{name}.pt")).eval().to(device)


def resolve_model(name_or_path: Union[str, Path, LNSNet, None], device=None) -> LNSNet:
    """A model for inference, not to be modified: shipped models come from a cache
    shared by all calls (use :func:`load_model` for a model of one's own)."""
    dev = as_device(device)
    if isinstance(name_or_path, LNSNet):
        m = name_or_path
        p = next(m.parameters(), None)
        if m.training or (p is not None and (p.device != dev or p.dtype != torch.float32)):
            m = copy.deepcopy(m).eval().to(dev).float()  # the caller's model left as it is
        return m
    name = DEFAULT_MODEL if name_or_path is None else name_or_path
    if not isinstance(name, (str, os.PathLike)):
        raise ArgumentTypeError(f"model must be a shipped model's name, a model file or an lnsnet.LNSNet, got "
                                f"{name!r}")
    if isinstance(name, str) and (name in available_models() or name in BASELINE_MODELS):
        return _load_named(name, str(dev))
    path = Path(name)
    if not path.exists():
        raise FileNotFoundError(
            f"no shipped model named {str(name)!r} (shipped: {', '.join(available_models()) or 'none'}; "
            f"baselines: {', '.join(BASELINE_MODELS)}) and no file at {path}"
        )
    st = path.stat()  # a file read once while it is unchanged (it was read on every call)
    return _load_file(str(path.resolve()), st.st_mtime_ns, st.st_size, str(dev))


@lru_cache(maxsize=4)
def _load_file(path: str, mtime_ns: int, size: int, device: str) -> LNSNet:
    """A model file on ``device``, cached by its real path, modification time and size
    (do not modify)."""
    return checkpoint.model_from_payload(checkpoint.load(Path(path))).eval().to(device)


def load_model(name_or_path: Union[str, Path, LNSNet, None] = None, device=None) -> LNSNet:
    """A model by shipped name (default ``"bsds500"``), by file path, or passed through;
    ``"none"`` (the clustering on the CIELAB input, no network) and ``"untrained"`` (the
    network before training) are the baselines that show what training adds.

    Model files are read with ``torch.load(weights_only=True)``: they can hold tensors and
    plain data only, never code. Shipped models are checked against their sha256. The
    model returned is the caller's own: training it does not change what ``segment``
    uses by default.
    """
    if isinstance(name_or_path, LNSNet):
        return name_or_path.eval().to(as_device(device))
    return copy.deepcopy(resolve_model(name_or_path, device))


def model_record(name_or_path: Union[str, Path, None] = None) -> dict:
    """``{"name", "sha256"}`` of a shipped model or model file (loaded once, so a bad
    file fails here with a clear message)."""
    name = DEFAULT_MODEL if name_or_path is None else name_or_path
    if isinstance(name, str) and name in available_models():
        return {"name": name, "sha256": _checked_sha256(name)}
    if isinstance(name, str) and name in BASELINE_MODELS:
        return {"name": name, "sha256": None, "what": BASELINE_MODELS[name]}
    resolve_model(name)
    path = Path(name)
    return {"name": str(path.resolve()), "sha256": checkpoint.sha256(path)}
