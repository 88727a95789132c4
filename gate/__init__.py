"""campus-gate: the gate service (engine, store, publisher, console)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("campus-gate")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+src"
