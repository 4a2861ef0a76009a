"""Bundled data, not code: catalogs, problems, vehicles, designs, price models and model defaults.

Read through kei.resources (importlib.resources), never by path from the source tree."""
