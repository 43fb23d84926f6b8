"""``python -m evojax_ga``: the ``evojax-ga`` command line."""

import sys

from evojax_ga.cli import main

sys.exit(main())
