"""`python3 -m hil.device`: the emulated BMS on a pty (see main.py)."""
import sys

from .main import main

sys.exit(main())
