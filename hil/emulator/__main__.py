"""`python3 -m hil.device`: the emulated BMS on a pty (see main.py)."""
import sys

from kei.hil.emulator.main import main

sys.exit(main())
