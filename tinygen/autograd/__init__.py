"""The autograd engine: graph nodes (function), the backward walk (engine), grad mode, and the
differentiable primitives (ops), one family per file."""
