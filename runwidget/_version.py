"""The installed package's version (``runwidget.__version__``), readable from any layer."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("runwidget")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
