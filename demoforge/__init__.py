"""demoforge command line: argument parsing and wiring only; the work lives in the packages."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("demoforge")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+source"
