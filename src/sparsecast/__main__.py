"""``python -m sparsecast ...``: the command line without the installed entry point (e.g. with PYTHONPATH=src)."""

import sys

from .cli import main

sys.exit(main())
