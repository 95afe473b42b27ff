"""``python -m pytest_dbsnap``: the ``dbsnap`` command."""

import sys

from .cli import main

sys.exit(main())
