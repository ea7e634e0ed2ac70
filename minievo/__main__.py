"""``python -m minievo`` is the ``minievo`` command."""

import sys

from .cli import main

sys.exit(main())
