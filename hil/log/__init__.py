"""The append-only session log, and the result computed from it alone."""
