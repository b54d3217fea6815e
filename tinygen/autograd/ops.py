"""Every differentiable primitive, gathered in one namespace (``tinygen.autograd.ops``).

Each lives in the file of its family, forward and backward side by side:
arithmetic (+ − × ÷ pow), elementwise (exp log sqrt sin cos tanh sigmoid relu abs clip),
reduction (sum mean max min var, broadcast_to, sum_to), shape (reshape permute getitem cat),
linalg (matmul), select (where maximum minimum), conversion (cast, device, copy).
Neural-network ops (linear, conv, pooling, normalisation, activations) live in tinygen/nn_ops.
"""
from .arithmetic import Add, Sub, Mul, Div, Neg, Pow, PowScalar  # noqa: F401
from .elementwise import Exp, Log, Sqrt, Sin, Cos, Tanh, Sigmoid, Relu, Abs, Clip  # noqa: F401
from .reduction import Sum, Mean, Max, Min, BroadcastTo, SumTo, var  # noqa: F401
from .shape import Reshape, Permute, GetItem, IndexAddZeros, Cat, cat, stack  # noqa: F401
from .linalg import MatMul  # noqa: F401
from .select import Where, Maximum, Minimum  # noqa: F401
from .conversion import Cast, ToDevice, Copy  # noqa: F401
