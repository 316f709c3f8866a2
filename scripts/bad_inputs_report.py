"""Run every bad (and unusual but valid) input of issue 'Reliability' through the API and
the CLI and print what each gets, as a Markdown table (docs/reliability.md).

    python scripts/bad_inputs_report.py > docs/reliability-table.md
"""

import io
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import lnsnet


def api(label, image, k=10, **kw):
    try:
        out = lnsnet.segment(image, k, **kw)
        res = f"OK: {out.dtype} {out.shape}, k={out.max() + 1}"
    except Exception as exc:  # noqa: BLE001 - we report whatever comes
        res = f"{type(exc).__name__}: {exc}"
    print(f"| API | {label} | {res.replace('|', '/')} |")


def cli(label, args):
    r = subprocess.run([sys.executable, "-m", "lnsnet.cli", *map(str, args)], capture_output=True, text=True)
    err = " / ".join(line for line in r.stderr.strip().splitlines() if line)
    print(f"| CLI | {label} | exit {r.returncode}; stderr: {err.replace('|', '/') or '(none)'} |")


def main():
    rng = np.random.default_rng(0)
    good = (rng.random((40, 60, 3)) * 255).astype(np.uint8)
    print("| where | input | result |\n|---|---|---|")
    api("empty array 0x5x3", np.zeros((0, 5, 3), np.uint8))
    api("1x1 image, K=1", good[:1, :1], 1)
    api("1xN image (1x60), K=5", good[:1], 5)
    api("3x3 image, K=9", good[:3, :3], 9)
    api("2x4000 image, K=100", (rng.random((2, 4000)) * 255).astype(np.uint8), 100)
    api("4-D array", good[None])
    api("2 channels", good[:, :, :2])
    api("5 channels", np.dstack([good, good[:, :, :2]]))
    nan = good.astype(np.float64) / 255
    nan[0, 0, 0] = np.nan
    api("NaN in a float image", nan)
    inf = good.astype(np.float32) / 255
    inf[3, 3, 1] = np.inf
    api("inf in a float image", inf)
    api("float image outside [0, 1]", good.astype(np.float32))
    api("bool array", good > 100)
    api("int64 array", good.astype(np.int64))
    api("float64 in [0, 1]", good / 255.0)
    api("float32 in [0, 1]", (good / 255.0).astype(np.float32))
    api("uint16 (16-bit)", good.astype(np.uint16) * 257)
    api("grayscale uint8", good[:, :, 0])
    api("RGBA uint8", np.dstack([good, np.full(good.shape[:2], 128, np.uint8)]))
    api("K = 0", good, 0)
    api("K = -3", good, -3)
    api("K = 2.5", good, 2.5)
    api("K = '10'", good, "10")
    api("K larger than the pixel count (40x60, K=5000)", good, 5000)
    api("K = 1", good, 1)
    api("a list instead of an array", good.tolist())
    api("clustering='mode=fast'", good, 10, clustering="mode=fast")
    api("compactness=-1", good, 10, compactness=-1)
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        img = d / "ok.png"
        Image.fromarray(good).save(img)
        buf = io.BytesIO()
        Image.fromarray(good).save(buf, format="JPEG")
        (d / "cut.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 3])
        buf = io.BytesIO()
        Image.fromarray(good).save(buf, format="PNG")
        (d / "cut.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
        (d / "text.png").write_text("not an image")
        blocker = d / "a_file"
        blocker.write_text("x")
        torch.save({"weights": torch.zeros(2)}, d / "other.pt")

        class Evil:
            def __reduce__(self):
                return (os.system, (f"touch {d / 'pwned'}",))

        with open(d / "evil.pt", "wb") as fh:
            pickle.dump({"format": "lnsnet", "state_dict": Evil()}, fh)
        cli("missing file", ["segment", d / "missing.jpg", "-o", d / "o"])
        cli("text file named .png", ["segment", d / "text.png", "-o", d / "o"])
        cli("truncated JPEG", ["segment", d / "cut.jpg", "-o", d / "o"])
        cli("truncated PNG", ["segment", d / "cut.png", "-o", d / "o"])
        cli("K = 0", ["segment", img, "-o", d / "o", "-k", "0"])
        cli("K = 2.5", ["segment", img, "-o", d / "o", "-k", "2.5"])
        cli("K larger than the pixel count", ["segment", img, "-o", d / "o", "-k", "100000"])
        cli("unwritable output folder (under a file)", ["segment", img, "-o", blocker / "sub"])
        cli("model file of the wrong kind (a torch tensor dict)", ["segment", img, "-o", d / "o", "-m", d / "other.pt"])
        cli("model file that is an image", ["segment", img, "-o", d / "o", "-m", img])
        cli("crafted pickle that would run code", ["segment", img, "-o", d / "o", "-m", d / "evil.pt"])
        print(f"| CLI | (after the crafted pickle) the command it carried ran? | {(d / 'pwned').exists()} |")
        cli("a folder with good and bad files", ["segment", d, "-o", d / "o2", "-q"])
        cli("the same folder again (finished outputs skipped)", ["segment", d, "-o", d / "o2", "-q"])
        cli("unknown subcommand", ["frobnicate"])


if __name__ == "__main__":
    main()
