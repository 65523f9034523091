"""dreg_utils: derivative control of compact neural networks.

The penalties, for a CompactMLP or your own ``torch.nn.Sequential``::

    from dreg_utils import dreg_penalty, input_gradient_penalty, jacobian_penalty
    loss = task_loss + lam * dreg_penalty(model, x)

or, in a training loop, the output and the penalty from one forward pass::

    from dreg_utils import Regulariser
    reg = Regulariser("dreg")  # or "jacobian", "igp", "none"
    output, penalty = reg(model, x, y)
    loss = task_loss(output, y) + lam * penalty
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dreg_utils")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+local"

from .penalties import dreg_penalty, input_gradient_penalty, jacobian_penalty  # noqa: E402
from .regulariser import Regulariser  # noqa: E402

__all__ = ["__version__", "Regulariser", "dreg_penalty", "input_gradient_penalty", "jacobian_penalty"]
