"""Where the feature embedder runs: torch (the default) or OpenVINO on the CPU.

``segment(..., backend="openvino")`` runs the network through OpenVINO in fp32 (since
torch's CPU path went channels-last on 2026-12-03, 1.1-1.4x torch's time on an AVX-512
CPU: kept for comparison; labels equal on 99.3-100 % of pixels),
``backend="openvino-bf16"`` in bfloat16 (0.68-0.77x torch's time on a CPU with AMX; the
same ASA and BR on BSDS500 val, but 10-35 % of the labels differ: ``docs/performance.md``). Only the
network moves: seeds, clustering and connectivity are the same code. Images large enough
to run in bands keep torch (the banded network needs whole-image statistics between its
layers). Needs ``pip install '.[openvino]'`` in the checkout (``openvino`` and ``onnx``).

The network is exported to ONNX once per set of weights, backend and thread count, and
compiled once per input shape; both are cached in this process (thread-safe: each call
gets its own inference request).
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import threading
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

__all__ = ["BACKENDS", "check_backend", "with_backend"]

#: backend name -> OpenVINO's inference precision (None: torch itself)
BACKENDS = {"torch": None, "openvino": "f32", "openvino-bf16": "bf16"}
_CACHE: dict = {}
_CACHE_SIZE = 4
_LOCK = threading.Lock()


def check_backend(backend, *, device_type: str = "cpu", adapt: int = 0, volume: bool = False,
                  features: str = "learned") -> str:
    """``backend`` checked: a known name, usable where it is asked for (an OpenVINO backend
    runs the 2-D network's feature embedder on the CPU, without ``adapt``, which trains in
    torch, and only for a clustering that reads it: ``features`` of
    :class:`lnsnet.ClusterOptions`) and installed; ``ValueError`` saying why not (the API and
    the CLI both ask here)."""
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}")
    if BACKENDS[backend] is not None:
        if features == "input" and not volume:
            raise ValueError(f"backend={backend!r} runs the feature embedder, which this clustering does not read "
                             "(features='input', as the default preset 'fast'): pass clustering='compact' to use it")
        if volume or adapt or device_type != "cpu":
            raise ValueError(f"backend={backend!r} runs the 2-D network on the CPU, without adapt (which trains "
                             "in torch): a volume takes backend='torch', as do adapt and a GPU")
        try:
            import onnx  # noqa: F401  (torch's ONNX export needs it)
            import openvino  # noqa: F401
        except ImportError as e:
            raise ValueError(f"backend={backend!r} needs OpenVINO and ONNX: pip install 'openvino>=2024.0' "
                             f"'onnx>=1.16' (in lnsnet's checkout: pip install '.[openvino]'; {e.name} is missing)") from None
    return backend


class OpenVINOEmbedder(nn.Module):
    """The feature embedder ``fem`` run by OpenVINO for whole images; its banded methods
    (``forward_band``, ``halo_of``, ...) stay torch's."""

    def __init__(self, fem: nn.Module, precision: str, threads: int):
        super().__init__()
        import openvino as ov

        self.fem = fem
        self.out_channels = fem.out_channels
        self._config = {"INFERENCE_NUM_THREADS": int(threads), "PERFORMANCE_HINT": "LATENCY",
                        "INFERENCE_PRECISION_HINT": precision}
        self._core = ov.Core()
        buf = io.BytesIO()
        x = torch.zeros(1, fem.branches[0].in_channels, 16, 16)
        # the plain graph (the no-grad path fuses in place, for torch only); the exporter's
        # notes (constant folding of slices) are not the user's business
        with torch.enable_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(fem, (x,), buf, input_names=["x"], output_names=["z"], opset_version=17,
                              dynamic_axes={"x": {0: "b", 2: "h", 3: "w"}, "z": {0: "b", 2: "h", 3: "w"}},
                              dynamo=False)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "fem.onnx"
            path.write_bytes(buf.getvalue())
            self._model = self._core.read_model(str(path))
        self._compiled: dict = {}

    @property
    def halo(self) -> int:
        return self.fem.halo

    @property
    def norms(self):
        return self.fem.norms

    def halo_of(self, stage: int) -> int:
        return self.fem.halo_of(stage)

    def forward_band(self, *args, **kwargs):
        return self.fem.forward_band(*args, **kwargs)

    def finish(self, *args, **kwargs):
        return self.fem.finish(*args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu":
            return self.fem(x)
        key = tuple(x.shape)
        with _LOCK:
            compiled = self._compiled.get(key)
            if compiled is None:
                if len(self._compiled) >= 8:  # a few shapes at a time (portrait, landscape, ...)
                    self._compiled.pop(next(iter(self._compiled)))
                m = self._model.clone()
                m.reshape({m.inputs[0]: list(key)})
                compiled = self._compiled[key] = self._core.compile_model(m, "CPU", self._config)
        request = compiled.create_infer_request()  # one per call: concurrent calls share nothing
        out = request.infer([np.ascontiguousarray(x.detach().numpy())])[compiled.outputs[0]]
        return torch.from_numpy(np.array(out, dtype=np.float32))


def _fingerprint(fem: nn.Module) -> str:
    """The embedder's architecture and weights (two models with the same weights but other
    layers, or other weights, never share an export)."""
    h = hashlib.sha256(repr(fem).encode())
    for k, v in fem.state_dict().items():
        h.update(k.encode())
        h.update(str(tuple(v.shape)).encode())
        h.update(v.detach().cpu().numpy().tobytes())
    return h.hexdigest()


def with_backend(net, backend: str):
    """``net`` itself for torch (or a network-free model), else a light copy of ``net``
    (its own seed layer and every other part) whose embedder runs on ``backend``; the
    OpenVINO embedder is cached per embedder weights, backend and thread count."""
    from .hub import is_input_only, with_embedder

    precision = BACKENDS[check_backend(backend)]
    if precision is None or is_input_only(net):
        return net
    threads = torch.get_num_threads()
    key = (_fingerprint(net.embedder), backend, threads)
    with _LOCK:
        embedder = _CACHE.get(key)
        if embedder is None:
            if len(_CACHE) >= _CACHE_SIZE:
                _CACHE.pop(next(iter(_CACHE)))
            embedder = _CACHE[key] = OpenVINOEmbedder(net.embedder, precision, threads)
    return with_embedder(net, embedder)  # shares every module of net but the embedder
