import os
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _thread_counts_restored():
    """Each test starts at the thread counts the one before it started at: a test that sets
    them (an in-process ``main([..., "--threads", "1"])``, ``lnsnet.runtime.set_threads``)
    does not change the ones after it (labels at near-ties depend on torch's thread count)."""
    from lnsnet import runtime

    before = runtime.thread_counts()
    yield
    runtime.restore_threads(before)


# ----------------------------------------------------------------------------- BSDS500
# The tests that read BSDS500 run on the full set when it is there -- $LNSNET_BSDS500, else
# ../shared/data/bsds500 beside the checkout (where .ci/run finds it) -- and otherwise on the
# three images with their ground truth in tests/data/bsds500-mini (same layout and file
# formats, read by the same code). Never skipped: a test checks what the set in use allows.
# LNSNET_TEST_FULL_DATA=1 turns the fall-back to the mini set into a failure.

SHARED_BSDS500 = REPO.parent / "shared" / "data" / "bsds500"
MINI_BSDS500 = REPO / "tests" / "data" / "bsds500-mini"
#: Images per split of the full set.
BSDS500_COUNTS = {"train": 200, "val": 100, "test": 200}


def bsds_root() -> Path:
    """Where the full set should be: $LNSNET_BSDS500, else ../shared/data/bsds500."""
    env = os.environ.get("LNSNET_BSDS500")
    return Path(env) if env else SHARED_BSDS500


def bsds500_source() -> tuple[Path, bool, str]:
    """(root, full, why) of the BSDS500 copy the tests use; ``RuntimeError`` if a full set
    is asked for or lies beside the checkout but is not usable (no silent fall-back)."""
    env = os.environ.get("LNSNET_BSDS500")
    if env:
        root = Path(env)
        if not (root / "images" / "test").is_dir():
            raise RuntimeError(f"LNSNET_BSDS500={env} has no images/test folder")
        full = root.resolve() != MINI_BSDS500.resolve()
        return root, full, "LNSNET_BSDS500"
    if SHARED_BSDS500.exists():
        if not (SHARED_BSDS500 / "images" / "test").is_dir():
            raise RuntimeError(f"{SHARED_BSDS500} exists but has no images/test folder")
        return SHARED_BSDS500, True, "../shared/data/bsds500 beside the checkout"
    why = "no ../shared/data/bsds500 beside the checkout and LNSNET_BSDS500 unset"
    if os.environ.get("LNSNET_TEST_FULL_DATA", "") not in ("", "0"):
        raise RuntimeError(f"LNSNET_TEST_FULL_DATA is set but the full BSDS500 is missing: {why}")
    return MINI_BSDS500, False, why


def _bsds500_line() -> str:
    try:
        root, full, why = bsds500_source()
    except RuntimeError as e:
        return f"BSDS500: ERROR, {e}"
    n = len(list((root / "images" / "test").glob("*.jpg")))
    kind = "full set" if full else "mini set"
    return f"BSDS500: {kind} at {root} ({n} test images; {why})"


def pytest_report_header(config):
    return _bsds500_line()


def pytest_terminal_summary(terminalreporter):
    # also under -q, which hides the header
    terminalreporter.write_line(f"data for the BSDS500 tests -- {_bsds500_line()}")


@pytest.fixture(scope="session")
def _bsds500_source() -> tuple[Path, bool]:
    try:
        root, full, _ = bsds500_source()
    except RuntimeError as e:
        pytest.fail(str(e))
    if full:  # a full set is complete: not a partial copy passing for it
        for split, n in BSDS500_COUNTS.items():
            got = len(list((root / "images" / split).glob("*.jpg")))
            if got != n:
                pytest.fail(f"full BSDS500 at {root}: {got} images in images/{split}, expected {n}")
    return root, full


@pytest.fixture
def bsds500(_bsds500_source) -> Path:
    """The BSDS500 root in use (full set or tests/data/bsds500-mini)."""
    return _bsds500_source[0]


@pytest.fixture
def bsds500_full(_bsds500_source) -> bool:
    """Whether :func:`bsds500` is the full set (False: the three-image mini set)."""
    return _bsds500_source[1]


def blocks_image(h=48, w=64, seed=0):
    """Four flat coloured quadrants plus a little noise: float RGB in [0, 1]."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    img[: h // 2, : w // 2] = (0.9, 0.1, 0.1)
    img[: h // 2, w // 2 :] = (0.1, 0.8, 0.2)
    img[h // 2 :, : w // 2] = (0.1, 0.2, 0.9)
    img[h // 2 :, w // 2 :] = (0.9, 0.9, 0.2)
    img += rng.normal(0, 0.02, img.shape).astype(np.float32)
    return np.clip(img, 0, 1)


@pytest.fixture
def blocks():
    return blocks_image()


def is_connected_labels(labels: np.ndarray) -> bool:
    """Every label forms exactly one 4-connected region (checked with scipy.ndimage)."""
    from scipy import ndimage

    for lab in np.unique(labels):
        _, n = ndimage.label(labels == lab)
        if n != 1:
            return False
    return True


def pytest_sessionfinish(session, exitstatus):
    """A run that collected no test must not pass: turn pytest's exit code 5 into 1."""
    if exitstatus == 5:
        session.exitstatus = 1


class lock_held_elsewhere:
    """A context: another process holds ``lnsnet.runtime.ProcessLock(path)`` until the block
    ends (then it is killed, as a run that dies would be); ``.pid`` is its process id."""

    def __init__(self, path):
        self.path = Path(path)

    def __enter__(self):
        import subprocess
        import sys

        code = ("import sys, time; from lnsnet.runtime import ProcessLock\n"
                f"with ProcessLock({str(self.path)!r}, 'busy'):\n"
                "    print('held', flush=True); time.sleep(120)\n")
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "held"
        self.pid = self.proc.pid
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        return False


def interrupting(fn, n: int):
    """``fn`` that raises KeyboardInterrupt (Ctrl-C, kill) on its ``n``-th call instead."""
    calls = []

    def wrapper(*a, **k):
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt
        return fn(*a, **k)

    return wrapper
