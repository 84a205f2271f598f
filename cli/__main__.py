"""`python -m cli`: the same as the `lake` command."""

import sys

from cli.main import main

sys.exit(main())
