"""``python -m tinygen ...`` is the ``tinygen`` command line (see tinygen/cli.py)."""
from .cli import main

raise SystemExit(main())
