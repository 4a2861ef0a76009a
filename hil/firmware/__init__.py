"""The C firmware stub from Python: boot-configuration headers and builds with make."""
