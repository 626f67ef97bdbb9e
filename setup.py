"""Builds the extension dnnfi._dnnfi with the project's CMake for `pip install .`.

The CMake build goes to $DNNFI_BUILD_DIR when set (reuse an existing build, e.g. build/), else to
build-python/ (tests off). The interpreter running pip is the one the extension is built for.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        reuse = os.environ.get("DNNFI_BUILD_DIR")
        build_dir = Path(reuse).resolve() if reuse else ROOT / "build-python"
        args = ["-DCMAKE_BUILD_TYPE=Release", "-DDNNFI_PYTHON=ON",
                f"-DPython3_EXECUTABLE={sys.executable}"]
        if not reuse:
            args.append("-DDNNFI_BUILD_TESTS=OFF")
        if shutil.which("ccache"):
            args.append("-DCMAKE_CXX_COMPILER_LAUNCHER=ccache")
        subprocess.check_call(["cmake", "-S", str(ROOT), "-B", str(build_dir), *args])
        jobs = str(os.cpu_count() or 1)
        subprocess.check_call(
            ["cmake", "--build", str(build_dir), "--target", "_dnnfi", "-j", jobs])
        built = list((build_dir / "python" / "dnnfi").glob("_dnnfi*.so"))
        if len(built) != 1:
            raise RuntimeError(f"expected one _dnnfi module in {build_dir}/python/dnnfi")
        dest = Path(self.get_ext_fullpath(ext.name))
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built[0], dest)


setup(ext_modules=[CMakeExtension("dnnfi._dnnfi")], cmdclass={"build_ext": CMakeBuild})
