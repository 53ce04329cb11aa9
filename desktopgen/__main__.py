"""`python -m desktopgen`: same as the `desktopgen` console script."""

import sys

from desktopgen.cli import main

sys.exit(main())
