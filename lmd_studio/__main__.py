import sys

from lmd_studio.cli import main

sys.exit(main())
