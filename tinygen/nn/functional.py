"""``tinygen.nn.functional`` is ``tinygen.functional`` (PyTorch users write ``import ...nn.functional as F``)."""
import sys

from .. import functional as _functional

sys.modules[__name__] = _functional
