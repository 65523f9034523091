"""Where tensors live: the device a run asks for, checked where it enters (settings, public
functions) and resolved once per run."""
from __future__ import annotations

import re

import torch

from .validation import check_choice

DEVICES = ("auto", "cpu", "cuda")


def check_device(device: str | torch.device, name: str = "device") -> str:
    """``device`` as text if this machine has it: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``
    (the last two only where CUDA is available); else a one-line ``ValueError``."""
    text = str(device)
    check_choice(name, text.split(":")[0], DEVICES)
    if ":" in text and not re.fullmatch(r"cuda:[0-9]+", text):
        raise ValueError(f"{name}={text!r} is not valid; an index goes only with 'cuda', e.g. 'cuda:0'")
    if text.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"{name}={text!r} was requested but CUDA is not available; use 'auto' or 'cpu'")
    return text


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA when available, else the CPU; ``"cpu"``/``"cuda[:n]"`` (or such a
    ``torch.device``) force one. Checked first (:func:`check_device`)."""
    text = check_device(device)
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(text)
