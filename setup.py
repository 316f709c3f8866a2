"""The build compiles the numba kernels into the package it builds (``pip install .``),
so the first ``lnsnet segment`` after an install does not wait for them: the kernels are
cached, by numba, in the ``__pycache__`` folders next to their sources, for the machine
the package is built on (``lnsnet.runtime.warm_kernels``). Anything that goes wrong there
only costs that time on first use, never the build."""

import os
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithKernels(build_py):
    def run(self):
        super().run()
        if self.editable_mode or os.environ.get("LNSNET_NO_KERNEL_BUILD"):
            return
        env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}  # cache beside the sources
        code = ("import sys; sys.path.insert(0, sys.argv[1]); import lnsnet.runtime as r; "
                "print('lnsnet: compiled', r.warm_kernels(), 'kernel signatures into the package')")
        try:
            subprocess.run([sys.executable, "-c", code, os.path.abspath(self.build_lib)], env=env, check=True,
                           timeout=600)
        except Exception as exc:  # the kernels then compile on first use
            print(f"lnsnet: kernels not compiled at build ({exc}); they compile on first use", file=sys.stderr)


setup(cmdclass={"build_py": BuildPyWithKernels})
