"""`python -m chalicelib`: see chalicelib.cli."""

import sys

from chalicelib.cli import main

sys.exit(main())
