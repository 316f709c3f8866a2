"""The feature embedder (FEM) on CPU backends: is there a faster way to run it?

    python benchmarks/fem_backends.py [--images 10] [--threads 2] [--labels 50] [--int8 20]
    pip install onnxruntime onnx openvino    # adds the ONNX Runtime and OpenVINO rows (optional)
    pip install nncf                         # with --int8 N: an OpenVINO int8 row (NNCF, N train images)

Median time of the shipped model's FEM per BSDS500 val image (481x321), in one process:
torch fp32 as shipped (the baseline: channels-last tensors, the steps between the
convolutions compiled, ``lnsnet.model.nhwc``), the torch NCHW path it replaced on
2026-12-03, torch with bf16 autocast (oneDNN; AMX where the CPU has it), ONNX Runtime (CPU provider, all graph optimisations, thread
spinning off) and OpenVINO (CPU device, latency hint, fp32 inference precision), with lnsnet's allocator tuning as in ``segment``, each with its largest difference to the baseline's features and
its time over the baseline's. ``--int8 N``: also OpenVINO with int8 convolutions, quantized
after training by NNCF (``nncf.quantize``, default preset, activation ranges from the
first N BSDS500 train images; no labels). The baseline is timed again last (drift check). With
``--labels N``: for each backend, the default ``segment`` on the first N val images at
K = 100, 400, 1000 with the backend's features in place of torch's: the share of pixels
labelled as with the shipped path, and ASA / BR / CO (best annotator, r = 1) of both.
"""

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

from _common import add_root  # benchmarks/_common.py, beside this file


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_root(ap)
    ap.add_argument("--images", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--labels", type=int, default=0, help="also compare labels and scores on N val images")
    ap.add_argument("--int8", type=int, default=0, help="an OpenVINO int8 row, calibrated on N train images")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    import lnsnet
    from lnsnet.features import encode
    from lnsnet.runtime import tune_malloc

    tune_malloc()  # as segment() does: no page faults from big buffers mapped and unmapped
    from lnsnet.io import read_image, to_float_rgb

    fem = lnsnet.load_model().embedder.eval()
    files = sorted((Path(args.root) / "images" / "val").glob("*.jpg"))[: args.images]
    xs = [encode(to_float_rgb(read_image(f))) for f in files]

    def timed(fn):
        for x in xs[:2]:
            fn(x)
        ts = []
        for _ in range(3):
            for x in xs:
                t0 = time.perf_counter()
                fn(x)
                ts.append(time.perf_counter() - t0)
        return 1000 * statistics.median(ts)

    def fp32(x):
        with torch.no_grad():
            return fem(x).numpy()

    def bf16(x):
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            return fem(x).float().numpy()

    def nchw(x):  # the CPU path until 2026-12-03: every step a torch operation on NCHW tensors
        with torch.no_grad():
            return fem._forward_band_nchw(x, True, True, [None, None, None], 3).numpy()

    runs = [("torch fp32 (shipped)", fp32), ("torch NCHW (before 12-03)", nchw), ("torch bf16 autocast", bf16)]
    onnx_bytes = None
    try:
        buf = io.BytesIO()
        with torch.enable_grad():  # the plain graph (the no-grad path fuses in place for torch only)
            torch.onnx.export(fem, (xs[0],), buf, input_names=["x"], output_names=["z"], opset_version=17,
                              dynamic_axes={"x": {2: "h", 3: "w"}, "z": {2: "h", 3: "w"}}, dynamo=False)
        onnx_bytes = buf.getvalue()
    except ImportError:
        print("(onnx not installed: no ONNX Runtime or OpenVINO row)")
    try:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.inter_op_num_threads = 1
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle threads would steal the CPU
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if onnx_bytes is not None:
            sess = ort.InferenceSession(onnx_bytes, so, providers=["CPUExecutionProvider"])
            runs.append((f"ONNX Runtime {ort.__version__}", lambda x: sess.run(None, {"x": x.numpy()})[0]))
    except ImportError:
        print("(onnxruntime not installed: no ONNX Runtime row)")
    try:
        import openvino as ov

        core = ov.Core()
        if onnx_bytes is not None:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "fem.onnx"
                path.write_bytes(onnx_bytes)
                ov_model = core.read_model(str(path))

            def openvino(precision, model=ov_model):
                compiled = {}
                config = {"INFERENCE_NUM_THREADS": args.threads, "PERFORMANCE_HINT": "LATENCY",
                          "INFERENCE_PRECISION_HINT": precision}

                def run(x):  # compiled once per input shape (portrait and landscape)
                    key = tuple(x.shape)
                    if key not in compiled:
                        m = model.clone()
                        m.reshape({m.inputs[0]: list(key)})
                        compiled[key] = core.compile_model(m, "CPU", config)
                    return compiled[key]([x.numpy()])[0]
                return run

            version = ov.__version__.split("-")[0]
            runs.append((f"OpenVINO {version} f32", openvino("f32")))
            runs.append((f"OpenVINO {version} bf16", openvino("bf16")))
            if args.int8:
                import nncf

                train = sorted((Path(args.root) / "images" / "train").glob("*.jpg"))[: args.int8]
                cal = [encode(to_float_rgb(read_image(f))).numpy() for f in train]
                q8 = nncf.quantize(ov_model, nncf.Dataset(cal), subset_size=len(cal))
                runs.append((f"OpenVINO {version} int8 (NNCF {nncf.__version__})", openvino("f32", q8)))
    except ImportError:
        print("(openvino not installed: no OpenVINO row)")
    runs.append(("torch fp32 again", fp32))
    ref = [fp32(x) for x in xs[:3]]
    base = None
    print(f"FEM per {xs[0].shape[3]}x{xs[0].shape[2]} image, {len(xs)} BSDS500 val images x 3, "
          f"{args.threads} thread(s), medians")
    for name, fn in runs:
        ms = timed(fn)
        err = max(float(abs(fn(x) - r).max()) for x, r in zip(xs[:3], ref))
        base = base or ms
        print(f"{name:28s} {ms:7.1f} ms  x{ms / base:.2f}  max |dZ| {err:.2g}")
    if args.labels:
        _labels(args, runs[1:-1], lnsnet)


def _labels(args, runs, lnsnet):
    import numpy as np
    import torch

    from lnsnet.eval.datasets import BSDS500
    from lnsnet.eval.metrics import score
    from lnsnet.model.embedder import InputEmbedder

    class Backend(InputEmbedder):  # the features from a backend, through the same segment()
        def __init__(self, fn, channels):
            super().__init__(channels)
            self.fn = fn

        def forward(self, x):
            return torch.as_tensor(np.asarray(self.fn(x), dtype=np.float32))

    shipped = lnsnet.load_model()
    ds = BSDS500(args.root, split="val")
    print(f"labels and scores on {args.labels} val images (default segment; shipped -> backend)")
    for name, fn in runs:
        net = lnsnet.load_model()
        net.embedder = Backend(fn, shipped.embedder.out_channels)
        for k in (100, 400, 1000):
            rows = []
            for i in range(args.labels):
                s = ds[i]
                a = lnsnet.segment(s.image, k, model=shipped)
                b = lnsnet.segment(s.image, k, model=net)
                sa, sb = score(a, s.ground_truths, s.image), score(b, s.ground_truths, s.image)
                rows.append([(a == b).mean(), sa["asa_best"], sb["asa_best"], sa["br_best"], sb["br_best"],
                             sa["co"], sb["co"]])
            m = np.mean(rows, 0)
            print(f"{name:28s} K={k:5d} labels equal {m[0]:.4f}  ASA {m[1]:.4f} -> {m[2]:.4f}  "
                  f"BR {m[3]:.4f} -> {m[4]:.4f}  CO {m[5]:.3f} -> {m[6]:.3f}")


if __name__ == "__main__":
    main()
