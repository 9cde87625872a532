"""``python -m sparsecast.cli ...`` (what torchrun and the tests launch)."""

import sys

from .parser import main

sys.exit(main())
