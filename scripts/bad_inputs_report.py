"""What lnsnet does with every odd or hostile file of the corpus (tests/odd_files.py) and
with bad arguments: runs each through ``lnsnet.io.read_image`` and through the real
``lnsnet segment`` command (a subprocess, as a user runs it) and prints Markdown tables.

    python scripts/bad_inputs_report.py            # print the tables
    python scripts/bad_inputs_report.py --write    # rewrite them in docs/reliability.md

``DIR`` stands for the temporary folder the corpus is made in.
"""

from __future__ import annotations

import argparse
import os
import pickle
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import lnsnet
from lnsnet.io import read_image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from odd_files import make_corpus  # noqa: E402

DOC = ROOT / "docs" / "reliability.md"


def _clean(text: str, d: Path) -> str:
    return re.sub(r"\s+", " ", text.replace(str(d), "DIR").replace("|", "/")).strip()


def cli(args, d: Path) -> tuple[int, str]:
    r = subprocess.run([sys.executable, "-m", "lnsnet.cli", *map(str, args)], capture_output=True, text=True)
    return r.returncode, _clean(" / ".join(line for line in r.stderr.splitlines() if line.strip()), d)


def corpus_table(d: Path) -> list[str]:
    rows = ["| file | kind | rule | `read_image` | `lnsnet segment FILE -k 8` |", "|---|---|---|---|---|"]
    cases = make_corpus(d / "corpus")
    ok = 0
    for c in cases:
        path = d / "corpus" / c.name
        try:
            arr = read_image(path)
            got = f"{arr.dtype} {arr.shape}"
            met = c.refused is None and str(arr.dtype) == c.dtype and arr.shape == c.shape
        except ValueError as exc:
            got = f"ValueError: {exc}"
            met = c.refused is not None and c.refused in str(exc)
        code, err = cli(["segment", path, "-o", d / "out", "-k", "8", "-q", "--no-overlay"], d)
        ok += met
        rows.append(f"| `{c.name}` | {c.kind} | {c.rule} | {_clean(got, d)} | exit {code}"
                    + (f"; {err}" if err else "") + " |")
        print(f"{c.name}: {'meets its rule' if met else 'BREAKS ITS RULE'}", file=sys.stderr)
    rows.append("")
    rows.append(f"{len(cases)} files; {ok} meet their rule (tests/test_odd_files.py checks every one, with the "
                "pixel values where the rule names them).")
    return rows


def api(label, image, k=10, **kw) -> str:
    try:
        out = lnsnet.segment(image, k, **kw)
        res = f"OK: {out.dtype} {out.shape}, labels {out.min()}..{out.max()}"
    except Exception as exc:  # noqa: BLE001 - we report whatever comes
        res = f"{type(exc).__name__}: {exc}"
    return f"| API | {label} | {_clean(res, Path('/nonexistent'))} |"


def arguments_table(d: Path) -> list[str]:
    rng = np.random.default_rng(0)
    good = (rng.random((40, 60, 3)) * 255).astype(np.uint8)
    rows = ["| where | input | result |", "|---|---|---|"]
    nan = good.astype(np.float64) / 255
    nan[0, 0, 0] = np.nan
    for label, image, k, kw in [
        ("empty array 0x5x3", np.zeros((0, 5, 3), np.uint8), 10, {}),
        ("1x1 image, K=1", good[:1, :1], 1, {}),
        ("1xN image (1x60), K=5", good[:1], 5, {}),
        ("2x4000 image, K=100", (rng.random((2, 4000)) * 255).astype(np.uint8), 100, {}),
        ("4-D array (a one-slice volume with 3 channels)", good[None], 10, {}),
        ("2 channels", good[:, :, :2], 10, {}),
        ("NaN in a float image", nan, 10, {}),
        ("float image outside [0, 1]", good.astype(np.float32), 10, {}),
        ("int64 array", good.astype(np.int64), 10, {}),
        ("K = 0", good, 0, {}),
        ("K = 2.5", good, 2.5, {}),
        ("K larger than the pixel count (40x60, K=5000)", good, 5000, {}),
        ("a list instead of an array", good.tolist(), 10, {}),
        ("clustering='mode=fast'", good, 10, {"clustering": "mode=fast"}),
        ("compactness=-1", good, 10, {"compactness": -1}),
    ]:
        rows.append(api(label, image, k, **kw))
    img = d / "ok.png"
    Image.fromarray(good).save(img)
    (d / "a_file").write_text("x")
    torch.save({"weights": torch.zeros(2)}, d / "other.pt")

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {d / 'pwned'}",))

    with open(d / "evil.pt", "wb") as fh:
        pickle.dump({"format": "lnsnet", "state_dict": Evil()}, fh)
    for label, args in [
        ("missing file", ["segment", d / "missing.jpg", "-o", d / "o"]),
        ("K = 0", ["segment", img, "-o", d / "o", "-k", "0"]),
        ("K larger than the pixel count", ["segment", img, "-o", d / "o", "-k", "100000"]),
        ("--max-pixels below the image's size", ["segment", img, "-o", d / "o", "--max-pixels", "1000"]),
        ("unwritable output folder (under a file)", ["segment", img, "-o", d / "a_file" / "sub"]),
        ("model file of the wrong kind (a torch tensor dict)", ["segment", img, "-o", d / "o", "-m", d / "other.pt"]),
        ("crafted pickle that would run code", ["segment", img, "-o", d / "o", "-m", d / "evil.pt"]),
        ("unknown subcommand", ["frobnicate"]),
    ]:
        code, err = cli(args, d)
        rows.append(f"| CLI | {label} | exit {code}; stderr: {err or '(none)'} |")
    rows.append(f"| CLI | (after the crafted pickle) the command it carried ran? | {(d / 'pwned').exists()} |")
    return rows


def replace_section(text: str, name: str, rows: list[str]) -> str:
    start, end = f"<!-- {name}: start -->", f"<!-- {name}: end -->"
    i, j = text.index(start) + len(start), text.index(end)
    return text[:i] + "\n" + "\n".join(rows) + "\n" + text[j:]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--write", action="store_true", help=f"rewrite the tables in {DOC.relative_to(ROOT)}")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        files, arguments = corpus_table(d), arguments_table(d)
    if a.write:
        text = replace_section(DOC.read_text(), "corpus table", files)
        DOC.write_text(replace_section(text, "arguments table", arguments))
        print(f"wrote {DOC}")
    else:
        print("\n".join(files + [""] + arguments))


if __name__ == "__main__":
    main()
