"""setuptools hook for the one compiled module; everything else is in pyproject.toml.

``models/charts/cusum_kernel.py`` (the self-starting CUSUM's step) is compiled by Cython in
its pure Python mode, typed by ``models/charts/cusum_kernel.pxd``. The extension is optional:
where it cannot be built (no C compiler, no Python headers) the build warns and goes on without
it, and the same module runs interpreted with the same results
(``synthwatch.models.charts.cusum_kernel.COMPILED`` says which).
"""

import shutil
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import BaseError, CCompilerError

MODULE = "synthwatch.models.charts.cusum_kernel"
SOURCE = Path("models/charts/cusum_kernel.py")


def _include_tree(root: Path) -> Path:
    """Cython finds a module's .pxd by its package path; the folders here are mapped into
    ``synthwatch`` by pyproject's package-dir, so the .pxd is laid out under that name."""
    package = root / "synthwatch" / "models" / "charts"
    package.mkdir(parents=True, exist_ok=True)
    for folder in (root / "synthwatch", package.parent, package):
        (folder / "__init__.pxd").touch()
    shutil.copyfile(SOURCE.with_suffix(".pxd"), package / "cusum_kernel.pxd")
    return root


class OptionalBuildExt(build_ext):
    """build_ext that leaves out an extension it cannot build, saying why."""

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except (OSError, CCompilerError, BaseError) as err:
            self.warn(f"{ext.name} not compiled ({err}); it runs interpreted, same results")


try:
    from Cython.Build import cythonize
except ImportError:  # pyproject's build requirements bring Cython; without it: interpreted
    ext_modules = []
else:
    ext_modules = cythonize(
        [
            Extension(
                MODULE,
                [str(SOURCE)],
                # IEEE operations one by one, as the interpreter does them: no fused multiply-add
                extra_compile_args=["-ffp-contract=off"],
            )
        ],
        build_dir="build/cython",
        include_path=[str(_include_tree(Path("build/cython-include")))],
        compiler_directives={"language_level": 3},
        quiet=True,
    )

setup(ext_modules=ext_modules, cmdclass={"build_ext": OptionalBuildExt})
