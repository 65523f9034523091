"""Optional packages, imported only where they are used, with a message naming the extra.

The core library needs only the packages of ``pyproject.toml``'s ``dependencies``; the book,
the tests, the Dask backend and the data fetchers live in optional groups (extras).
"""
from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, extra: str, purpose: str, package: str | None = None) -> ModuleType:
    """Import ``module``; when it is missing, raise ``ImportError`` saying that ``purpose``
    needs it and that ``pip install 'dreg_utils[extra]'`` installs it (``package``: the
    distribution's name where it differs from the module's, e.g. pyyaml for yaml)."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        package = package or module.split(".")[0]
        raise ImportError(f"{purpose} needs the package {package!r}, which is not installed; install "
                          f"it with pip install 'dreg_utils[{extra}]' (or pip install {package})") from error
