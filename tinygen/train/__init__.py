"""Training: the loop shared by every model (``Trainer``/``fit``), recipes that tell the command
line how to build, train, evaluate and picture each model family, and the pictures themselves."""
