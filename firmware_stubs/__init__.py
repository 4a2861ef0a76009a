"""Bundled data, not code: the C firmware stub's sources, built with make by kei.hil.firmware.build."""
