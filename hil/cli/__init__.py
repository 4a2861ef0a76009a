"""The bench commands (kei hil ..., kei firmware ...): argparse and printing only. Nothing imports this package but kei.cli."""
