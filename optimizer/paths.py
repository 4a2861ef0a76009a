"""Where kei finds its bundled data: cycles inside the package, configs at the project root."""
from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
CYCLES_DIR = PACKAGE_DIR / "data" / "cycles"
# configs/ sits beside the packages (editable install or a checkout, as the README sets up).
PROJECT_DIR = PACKAGE_DIR.parent
CONFIGS_DIR = PROJECT_DIR / "configs"
MODEL_DEFAULTS_FILE = CONFIGS_DIR / "model_defaults.toml"
