"""Where kei finds its data: the configs, cycles and firmware sources bundled in the package, and a
lab's own configs on top of them.

Everything bundled ships as package data and is found with `importlib.resources`, so kei runs the
same from a checkout (editable install) and from a wheel. A lab points kei at its own folder with
`kei --configs DIR ...` or `KEI_CONFIG_DIR=DIR`: a file there (`DIR/catalog/cells.toml`,
`DIR/problems/my_car.toml`) is used instead of the bundled file of the same relative path, and
everything it does not have still comes from the bundle. The folder is read from the environment on
every lookup (no module state), so device processes and study workers started by kei see it too.

Bundled items are addressable by name the way cycles are: `named("problems", "us_kei_15k")` is the
file `problems/us_kei_15k.toml` of the lab folder or the bundle; a path to an existing file is used
as it is.
"""
from __future__ import annotations

import difflib
import importlib.resources
import os
import re
from pathlib import Path

from kei.errors import ConfigError

CONFIG_DIR_ENV = "KEI_CONFIG_DIR"
BUILD_DIR_ENV = "KEI_BUILD_DIR"
# Names in the bundle: lower-case words joined by underscores (file stems of configs/*/).
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _package_dir(package: str) -> Path:
    """The folder of an installed package. pip installs wheels as plain files, so this is a real
    path (a zipped install would need `as_file`, which kei has no use for)."""
    root = importlib.resources.files(package)
    if not isinstance(root, Path):
        raise ConfigError(package, None, "kei must be installed as files, not zipped (pip install kei)")
    return root


def bundled_configs_dir() -> Path:
    return _package_dir("kei.configs")


def user_configs_dir() -> Path | None:
    """The lab's config folder (KEI_CONFIG_DIR / --configs), checked to be a folder."""
    value = os.environ.get(CONFIG_DIR_ENV)
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        raise ConfigError(str(path), None, f"{CONFIG_DIR_ENV} / --configs must name a folder of config files")
    return path


def config_dirs() -> list[Path]:
    """The folders searched for a config file, first match wins."""
    user = user_configs_dir()
    return ([user] if user else []) + [bundled_configs_dir()]


def config_file(relative: str) -> Path:
    """`relative` (e.g. "catalog/cells.toml") from the lab folder if it has it, else the bundle's
    (which the caller reads, so a file missing from both is reported with the bundled path)."""
    for folder in config_dirs():
        candidate = folder / relative
        if candidate.exists():
            return candidate
    return bundled_configs_dir() / relative


def names(kind: str) -> list[str]:
    """Names of the TOML files in `configs/<kind>/` of the lab folder and the bundle."""
    found: set[str] = set()
    for folder in config_dirs():
        if (folder / kind).is_dir():
            found.update(p.stem for p in (folder / kind).glob("*.toml"))
    return sorted(found)


def named(kinds: str | tuple[str, ...], name_or_path: str | Path, *, what: str = "file") -> Path:
    """A config given by path or by bundled name. `kinds` are the configs/ subfolders searched in
    order (`("vehicles", "designs")` for anything `kei simulate` accepts). A path must exist; a
    name that matches nothing is an error listing what there is."""
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    text = str(name_or_path)
    path = Path(text).expanduser()
    looks_like_path = path.suffix != "" or os.sep in text or text.startswith(".")
    if path.exists() or looks_like_path or not NAME.match(text):
        if path.is_dir():
            raise ConfigError(text, None, f"is a folder; expected a {what} (a TOML file or a bundled name)")
        if not path.exists():
            raise ConfigError(text, None, f"{what} not found")
        return path
    for kind in kinds:
        candidate = config_file(f"{kind}/{text}.toml")
        if candidate.is_file():
            return candidate
    known = [n for kind in kinds for n in names(kind)]
    close = difflib.get_close_matches(text, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ConfigError(text, None, f"no such {what} and no bundled one of that name{hint}; "
                      f"bundled: {', '.join(known) or 'none'}")


def cycles_dir() -> Path:
    return _package_dir("kei.vehicle") / "data" / "cycles"


def firmware_dir() -> Path:
    """The C firmware stub's sources (Makefile, src/, include/, port/, tests/, config/)."""
    return _package_dir("kei.firmware_stubs")


def firmware_build_dir() -> Path:
    """Where make puts the firmware builds: KEI_BUILD_DIR if set; in a checkout (editable install)
    `firmware_stubs/build` beside the sources, as `make -C firmware_stubs` does by hand; from a
    wheel a per-version folder in the user's cache, since site-packages is no place for objects."""
    if os.environ.get(BUILD_DIR_ENV):
        return Path(os.environ[BUILD_DIR_ENV]).expanduser().resolve()
    source = firmware_dir()
    if (source.parent / "pyproject.toml").is_file():
        return source / "build"
    from kei import __version__

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "kei" / __version__ / "firmware"


def shown_path(path: str | Path) -> str:
    """A path as kei writes it into generated files: `configs/...` for a bundled config (the same
    on every machine), relative to the working folder when inside it, else as given."""
    resolved = Path(path).resolve()
    bundled = bundled_configs_dir().resolve()
    if resolved.is_relative_to(bundled):
        return str(Path("configs") / resolved.relative_to(bundled))
    cwd = Path.cwd().resolve()
    return str(resolved.relative_to(cwd)) if resolved.is_relative_to(cwd) else str(path)
