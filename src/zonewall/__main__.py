"""`python -m zonewall` runs the command line."""

from __future__ import annotations

import sys

from zonewall.cli import main

sys.exit(main())
