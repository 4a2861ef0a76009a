"""`python3 -m kei ...`: the same as the `kei` command."""
import sys

from kei.cli import main

sys.exit(main())
