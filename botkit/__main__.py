"""``python -m botkit``: the same as the ``botkit`` command."""

import sys

from botkit.cli import main

sys.exit(main())
