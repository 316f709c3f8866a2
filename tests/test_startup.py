"""Startup: ``import lnsnet`` and ``lnsnet --help`` import nothing heavy; the first
``lnsnet segment`` with a cold kernel cache says, in one line, that it compiles once."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

import lnsnet
from conftest import blocks_image

HEAVY = ("torch", "numba", "numpy", "scipy", "skimage", "PIL", "tqdm", "tifffile")


def _imported_after(code: str, env=None) -> list[str]:
    """The heavy packages a fresh interpreter has imported after running ``code``."""
    probe = code + f"\nimport sys; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    return eval(r.stdout.strip().splitlines()[-1])


def test_import_and_help_import_nothing_heavy():
    assert _imported_after("import lnsnet; lnsnet.__version__; dir(lnsnet)") == []
    parse = textwrap.dedent("""
        from lnsnet.cli import build_parser
        p = build_parser()
        p.format_help()
        p.parse_args(["segment", "x.jpg", "-o", "out"])
        p.parse_args(["info"])
        for cmd in ("segment", "train", "info"):
            try:
                p.parse_args([cmd, "--help"])
            except SystemExit:
                pass
    """)
    assert _imported_after(parse) == []
    # the clustering's options are configuration: numpy only (they loaded torch and numba, 1.6 s)
    opts = "import lnsnet; lnsnet.ClusterOptions.parse('paper:window=5'); lnsnet.PRESETS['fast']"
    assert _imported_after(opts) == ["numpy"]
    r = subprocess.run([sys.executable, "-m", "lnsnet.cli", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "segment" in r.stdout and "benchmark" in r.stdout
    r = subprocess.run([sys.executable, "-m", "lnsnet.cli", "benchmark", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--methods" in r.stdout and "slic" in r.stdout  # its options, added on use


def test_lazy_public_names():
    from lnsnet import cluster, hub, inference, measure, model, train

    home = {"segment": inference, "ClusterOptions": cluster, "PRESETS": cluster, "load_model": hub,
            "available_models": hub, "train_stream": train, "TrainConfig": train, "LNSNet": model,
            "ModelConfig": model, "regions": measure}
    assert sorted(lnsnet.__all__) == sorted([*home, "__version__"])
    for name, module in home.items():
        assert getattr(lnsnet, name) is getattr(module, name), name
        assert name in dir(lnsnet)
    assert isinstance(lnsnet.__version__, str) and "__version__" in dir(lnsnet)
    with pytest.raises(AttributeError, match="no attribute 'segmnet'"):
        lnsnet.segmnet  # noqa: B018
    from lnsnet import regions, segment  # noqa: F401


def _env(cache_dir):
    return {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}


def test_kernels_cached_tells_a_cold_cache_from_a_warm_one(tmp_path):
    (tmp_path / "lnsk_probe.py").write_text(textwrap.dedent("""
        import numba as nb

        @nb.njit(cache=True, inline="always")
        def helper(x):
            return x * 2

        @nb.njit(cache=True)
        def kernel(x):
            return helper(x) + 1
    """))
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        from lnsnet.runtime import kernels_cached
        before = kernels_cached(("lnsk_probe",))
        import lnsk_probe
        assert lnsk_probe.kernel(3) == 7
        print(before, kernels_cached(("lnsk_probe",)))
    """)
    env = _env(tmp_path / "cache")
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env) for _ in range(2)]
    assert [r.stdout.split() for r in runs] == [["False", "True"], ["True", "True"]], [r.stderr for r in runs]
    # the package's own kernels, with an empty cache folder
    r = subprocess.run([sys.executable, "-c", "from lnsnet.runtime import kernels_cached; print(kernels_cached())"],
                       capture_output=True, text=True, env=_env(tmp_path / "empty"))
    assert r.stdout.split() == ["False"], r.stderr


FAKE_SEGMENT = textwrap.dedent("""
    import sys
    import lnsnet.jobs as jobs
    # no kernels run: the line is about the cache, not about what compiling prints
    jobs.segment_files = lambda files, out, model, opts, data=None: [jobs.Outcome(str(f), "done", k=1) for f in files]
    from lnsnet.cli import main
    main(sys.argv[1:] + ["-q", "--overwrite"])  # quiet: no line
    sys.exit(main(sys.argv[1:]))
""")


def test_segment_says_once_that_it_compiles_when_the_cache_is_cold(tmp_path, capsys, monkeypatch):
    from lnsnet import jobs
    from lnsnet.cli import COMPILING, main
    from lnsnet.runtime import kernels_cached

    img = tmp_path / "in.png"
    pixels = (blocks_image() * 255).astype(np.uint8)
    Image.fromarray(pixels).save(img)
    args = ["segment", str(img), "-k", "8", "-o", str(tmp_path / "out")]
    r = subprocess.run([sys.executable, "-c", FAKE_SEGMENT, *args], capture_output=True, text=True,
                       env=_env(tmp_path / "empty"))
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines().count(COMPILING) == 1 and r.stderr.count("compiling") == 1, r.stderr
    # warm (the kernels compiled and cached by this process): no line
    lnsnet.segment(pixels, 8)
    assert kernels_cached()
    monkeypatch.setattr(jobs, "segment_files",
                        lambda files, out, model, opts, data=None: [jobs.Outcome(str(f), "done", k=1) for f in files])
    assert main(args + ["--overwrite"]) == 0
    assert "compiling" not in capsys.readouterr().err


def test_warm_kernels_leaves_every_kernel_compiled():
    """What the build runs (setup.py): afterwards the kernels a segment call runs each have
    a compiled signature, and they are in the on-disk cache."""
    from lnsnet import connectivity, features, runtime
    from lnsnet.cluster import kernels

    assert runtime.warm_kernels() >= 10 and runtime.kernels_cached()
    called = [features._lab_rows, features._normalise, features._blur_rows, features._blur_cols,
              connectivity._components, connectivity._merge_small,
              kernels._local_assign, kernels._seed_sums, kernels._potts_sweep, kernels._contrast_weights,
              kernels._feature_stats, kernels._edge_strength]
    assert all(k.signatures for k in called), [k.py_func.__name__ for k in called if not k.signatures]
    # volumes too (a fresh install's first volume took 19 s more than the next)
    from lnsnet import flood, volume

    assert runtime.kernels_cached(("lnsnet.volume",))
    called = [volume._standardise, volume._edge_strength3, volume._assign3, volume._accumulate3,
              volume._components3, volume._piece_sums, volume._merge_round, flood._flood, flood._seeds]
    assert all(k.signatures for k in called), [k.py_func.__name__ for k in called if not k.signatures]


def test_set_threads_returns_the_counts_restore_threads_takes():
    from lnsnet import runtime

    before = runtime.thread_counts()
    assert runtime.set_threads(1) == before
    assert runtime.thread_counts()[:2] == (1, 1)
    assert runtime.thread_counts()[2] in (None, 1)
    runtime.restore_threads(before)
    assert runtime.thread_counts() == before


def test_import_sets_a_passive_openmp_wait_unless_the_user_set_one():
    # GNU OpenMP's spinning threads take the cores other busy processes need
    # (benchmarks/contention.py); a user's own setting wins
    code = "import os, lnsnet; print(os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT'))"
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    run = lambda extra: subprocess.run([sys.executable, "-c", code], env={**env, **extra}, capture_output=True,  # noqa: E731
                                       text=True, check=True).stdout.split()
    assert run({}) == ["PASSIVE", "None"]
    assert run({"OMP_WAIT_POLICY": "ACTIVE"}) == ["ACTIVE", "None"]
    assert run({"GOMP_SPINCOUNT": "1000"}) == ["None", "1000"]
