"""Stage 5: the answers. Decoded designs, binding constraints, text and JSON reports, design files."""
