"""Model and training-checkpoint files: safe to load, written atomically.

A file is a plain dict of tensors, numbers, strings and lists, saved with ``torch.save``
and read with ``torch.load(weights_only=True)``, which refuses to unpickle code::

    {"format": "lnsnet", "version": 1, "model_config": {...}, "state_dict": {...},
     # training checkpoints add:
     "optimizer": {...}, "train_config": {...}, "position": int, "history": [...]}
"""

from __future__ import annotations

import hashlib
import pickle
import warnings
from pathlib import Path

import torch

from .io import atomic_write
from .model import LNSNet, ModelConfig

FORMAT = "lnsnet"
VERSION = 1

__all__ = ["save", "load", "load_latest", "model_from_payload", "sha256", "export_model"]


def save(path, model: LNSNet, keep_previous: bool = False, **extra) -> None:
    """Write ``model`` (and ``extra`` entries such as optimizer state) atomically.

    With ``keep_previous`` the file it replaces is kept as ``<path>.prev``.
    """
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "model_config": model.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    payload.update(extra)
    atomic_write(Path(path), lambda tmp: torch.save(payload, tmp), keep_previous=keep_previous)


def load(path) -> dict:
    """Read a model or checkpoint file without unpickling code.

    Raises ``FileNotFoundError`` if missing and ``ValueError`` naming the file if it is not
    an lnsnet model file (wrong kind, truncated, or containing pickled code).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pickle-protocol notes about foreign files
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        detail = [line for line in lines if "Unsupported" in line or "WeightsUnpickler" in line][-1:] or lines[:1] or [""]
        raise ValueError(
            f"{path} is not an lnsnet model file: not a plain tensor checkpoint, and files that "
            f"would need arbitrary objects unpickled are refused without being run ({detail[0].strip()})"
        ) from None
    except Exception as exc:  # torch raises many kinds (KeyError, RuntimeError, EOFError...)
        raise ValueError(f"{path} is not a readable lnsnet model file (truncated or wrong kind): {exc}") from None
    if isinstance(payload, dict) and payload.get("format") == "lnsnet-3d":  # lnsnet.volume_model.FORMAT
        raise ValueError(f"{path} is a 3-D model (lnsnet train --volume): it segments volumes, "
                         "lnsnet segment --volume -m FILE (lnsnet.segment(volume, K, model=FILE, channel_axis=None))")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not an lnsnet model file (no 'format': 'lnsnet' entry)")
    if payload.get("version", 0) > VERSION:
        raise ValueError(f"{path} was written by a newer lnsnet (file version {payload['version']})")
    return payload


def model_from_payload(payload: dict) -> LNSNet:
    """Build an :class:`LNSNet` from a loaded payload."""
    with torch.random.fork_rng(devices=[]):  # building draws initial weights: the host's random numbers untouched
        model = LNSNet(ModelConfig.from_dict(payload.get("model_config", {})))
    try:
        model.load_state_dict(payload["state_dict"])
    except (KeyError, RuntimeError) as exc:
        raise ValueError(f"model file does not match the LNS-Net architecture: {exc}") from None
    return model.float()  # float32 whatever torch's default dtype is


def sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_latest(path) -> tuple[dict, Path]:
    """Load ``path``, or ``<path>.prev`` with a warning when ``path`` is missing or corrupt.

    Returns the payload and the file it came from. Raises the error of ``path`` when
    neither file is good.
    """
    path = Path(path)
    prev = path.with_name(path.name + ".prev")
    try:
        return load(path), path
    except (ValueError, FileNotFoundError) as exc:
        if not prev.is_file():
            raise
        try:
            payload = load(prev)
        except (ValueError, FileNotFoundError):
            raise exc from None
        warnings.warn(f"{path} is unusable ({exc}); using the previous checkpoint {prev}", stacklevel=2)
        return payload, prev


def export_model(src, dst, **meta) -> str:
    """Write the model of checkpoint ``src`` to ``dst`` without training state.

    Also writes ``<dst stem>.json`` holding the file's sha256 and ``meta``; returns the sha256.
    """
    import json

    payload = load(src)
    model = model_from_payload(payload)
    save(dst, model, train_config=payload.get("train_config"), position=payload.get("position"))
    digest = sha256(dst)
    info = {"sha256": digest, "file": Path(dst).name, **meta}
    meta_path = Path(dst).with_suffix(".json")
    atomic_write(meta_path, lambda tmp: Path(tmp).write_text(json.dumps(info, indent=2) + "\n"))
    return digest
