"""Training: the loop shared by every model (``Trainer``/``fit``), recipes that tell the command
line how to build, train, evaluate and picture each model family, and the pictures themselves."""


def __getattr__(name):
    if name in ("Trainer", "fit"):
        from . import trainer
        return getattr(trainer, name)
    raise AttributeError(f"module 'tinygen.train' has no attribute {name!r}")
