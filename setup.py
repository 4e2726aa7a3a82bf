"""Builds the Python package's extension with the project's own CMake build (pyproject.toml
says how to install it). PROCPOOL_BUILD_DIR: an existing CMake build folder to build the
extension in (and reuse what it has built), instead of a fresh one under build/."""
import glob
import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        given = os.environ.get("PROCPOOL_BUILD_DIR")
        build_dir = given or os.path.join(os.path.abspath(self.build_temp), "cmake")
        if not given:  # a given build folder keeps its own configuration
            subprocess.check_call(["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release",
                                   "-DPROCPOOL_TESTS=OFF", "-DPYTHON_EXECUTABLE=" + sys.executable])
        subprocess.check_call(["cmake", "--build", build_dir, "--target", "_procpool", "-j", str(os.cpu_count() or 1)])
        built = glob.glob(os.path.join(build_dir, "python", "procpool", "_procpool*.so"))
        if len(built) != 1:
            raise RuntimeError("the CMake build made no single _procpool module: %r" % built)
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(built[0], target)


setup(ext_modules=[CMakeExtension("procpool._procpool")], cmdclass={"build_ext": CMakeBuild})
