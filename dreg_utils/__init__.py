"""dreg_utils: helpers for the dreg-book on derivative control of compact neural networks."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dreg_utils")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+local"
