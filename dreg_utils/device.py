"""Where tensors live: the device a run asks for, resolved once."""
from __future__ import annotations

import torch

from .validation import check_choice

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA when available, else the CPU; ``"cpu"``/``"cuda[:n]"`` (or such a
    ``torch.device``) force one."""
    name = str(device)
    kind = name.split(":")[0]
    check_choice("device", kind, DEVICES)
    if ":" in name and kind != "cuda":
        raise ValueError(f"device={device!r} is not valid; an index goes only with 'cuda', e.g. 'cuda:0'")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={name!r} was requested but CUDA is not available; use 'auto' or 'cpu'")
    return torch.device(name)
