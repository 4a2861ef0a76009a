"""The optimizer's commands (kei solve, kei catalog): argparse and printing only. Nothing imports this package but kei.cli."""
