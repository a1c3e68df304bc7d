"""``python -m nasforge`` is the ``nasforge`` command."""

import sys

from nasforge.cli.main import main

sys.exit(main())
