"""`python -m lmd_studio.cli …` (what `torchrun -m` runs) is `lmd …`."""

import sys

from lmd_studio.cli import main

sys.exit(main())
