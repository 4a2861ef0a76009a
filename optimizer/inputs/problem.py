"""Problem files (`configs/problems/`): what `kei solve` optimises and under which requirements.

    name = "us_kei_15k"
    objective = "max_range"          # or "min_price" (then min_range_km is required)
    cycle = "epa_combined"
    price_cap_usd = 15000.0
    model_year = 2027                # which required content is in force (default: content.toml's)
    climate = "test"                 # or "cold": a winter duty on which the HVAC options draw
    [regulation]  profile = "us_kei" plus any limit of configs/regulations.toml to override
    [performance] min_top_speed_kmh, max_accel_0_100_s, grade_percent + grade_speed_kmh, follow_cycle
    [price]       model = "us_2025" plus any key of the price model to override

Every key is declared once (below) with its unit; an unknown key or a bad value names the file and
the dotted key.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kei.errors import ConfigError, CycleError
from kei.optimizer.inputs.content import CLIMATES
from kei.optimizer.inputs.price_model import PriceModel, load_price_model
from kei.optimizer.inputs.regulations import Limits, load_limits
from kei.resources import named
from kei.schema import Field, read_toml, validate_table
from kei.vehicle.cycles import load_cycle
from kei.vehicle.procedures import raw_trace_payload_kg

OBJECTIVES = ("max_range", "min_price")
DEFAULT_PRICE_CAP_USD = 15000.0  # the headline question of the project: a $15,000 car (issue 3)

TOP_FIELDS = (
    Field("name", str, "-", "problem name (default: the file name)", default=""),
    Field("description", str, "-", "free text", default=""),
    Field("objective", str, "-", "what to optimise", choices=OBJECTIVES),
    Field("cycle", str, "-", "drive cycle: a bundled name or a CSV path (relative to the problem file)"),
    Field("price_cap_usd", float, "USD", "retail price limit", default=DEFAULT_PRICE_CAP_USD, min=1.0),
    Field("min_range_km", float, "km", "range the car must reach (required for min_price)", default=None, min=0.0),
    Field("payload_kg", float, "kg", "test payload on top of curb mass (default: the raw-trace load of configs/procedures.toml)", default=None,
          min=0.0, max=5000),
    Field("model_year", int, "-", "model year: which required content is in force (default: content.toml's "
          "default_model_year)", default=None, min=1990, max=2100),
    Field("climate", str, "-", "test: the procedure as written (HVAC off); cold: a winter duty with the HVAC load "
          "of the content options", default="test", choices=CLIMATES),
    Field("catalog", str, "-", "catalog directory (relative to the problem file; default configs/catalog)",
          default=""),
)
PERFORMANCE_FIELDS = (
    Field("min_top_speed_kmh", float, "km/h", "speed sustained on the level on continuous motor power",
          default=None, min=1.0, max=400),
    Field("max_accel_0_100_s", float, "s", "0-100 km/h time on peak motor power at test mass", default=None,
          min=1.0, max=120),
    Field("grade_percent", float, "%", "grade climbed at grade_speed_kmh on continuous motor power",
          default=None, min=0.0, max=60),
    Field("grade_speed_kmh", float, "km/h", "speed held on grade_percent", default=None, min=1.0, max=300),
    Field("follow_cycle", bool, "-", "the car must follow the cycle's speed trace everywhere", default=True),
)


@dataclass(frozen=True)
class Performance:
    min_top_speed_kmh: float | None = None
    max_accel_0_100_s: float | None = None
    grade_percent: float | None = None
    grade_speed_kmh: float | None = None
    follow_cycle: bool = True


@dataclass(frozen=True)
class Problem:
    name: str
    objective: str
    cycle: str
    price_cap_usd: float
    min_range_km: float | None
    payload_kg: float
    catalog_dir: str | None        # None: the configured catalog (kei.resources)
    limits: Limits
    performance: Performance
    price: PriceModel
    description: str = ""
    file: str = ""
    model_year: int | None = None  # None: the content file's default_model_year
    climate: str = "test"


def load_problem(path: str | Path) -> Problem:
    """A problem file by path or by bundled name (`us_kei_15k`: configs/problems/us_kei_15k.toml)."""
    path = named("problems", path, what="problem file")
    return problem_from_dict(read_toml(path), file=str(path), base_dir=path.parent)


def problem_from_dict(raw: dict, *, file: str = "<problem>", base_dir: Path | None = None) -> Problem:
    """Validate a parsed problem file. Paths in it are relative to `base_dir` (the file's folder)."""
    base_dir = Path(base_dir) if base_dir is not None else Path.cwd()
    sections = ("regulation", "performance", "price")
    top = validate_table(raw, TOP_FIELDS, file=file, allow_subtables=sections)
    if top["objective"] == "min_price" and top["min_range_km"] is None:
        raise ConfigError(file, "min_range_km", "required when objective = \"min_price\" (the range to reach)")

    cycle = top["cycle"]
    if cycle.lower().endswith(".csv") and not Path(cycle).is_absolute():
        cycle = str(base_dir / cycle)
    try:
        load_cycle(cycle)
    except CycleError as err:
        raise ConfigError(file, "cycle", str(err)) from err

    regulation = dict(top.get("regulation", {}))
    if not isinstance(regulation, dict) or "profile" not in regulation:
        raise ConfigError(file, "regulation.profile", "missing: name a profile (jp_kei, us_lsv, eu_l7e, us_kei, none)")
    profile = regulation.pop("profile")
    if not isinstance(profile, str):
        raise ConfigError(file, "regulation.profile", f"expected a profile name, got {profile!r}")
    limits = load_limits(profile, regulation, file=file)

    perf = validate_table(top.get("performance", {}), PERFORMANCE_FIELDS, file=file, where="performance")
    if (perf["grade_percent"] is None) != (perf["grade_speed_kmh"] is None):
        missing = "grade_speed_kmh" if perf["grade_speed_kmh"] is None else "grade_percent"
        raise ConfigError(file, f"performance.{missing}", "grade_percent and grade_speed_kmh go together")
    performance = Performance(**perf)

    price_table = dict(top.get("price", {}))
    if "model" not in price_table:
        raise ConfigError(file, "price.model", "missing: name a price model (us_2025, jp_2025) or a TOML path")
    model_name = price_table.pop("model")
    if isinstance(model_name, str) and model_name.endswith(".toml") and not Path(model_name).is_absolute():
        model_name = str(base_dir / model_name)
    price = load_price_model(model_name, price_table, file=file)

    payload = top["payload_kg"]
    if payload is None:
        payload = raw_trace_payload_kg()
    catalog_dir = None
    if top["catalog"]:
        catalog_dir = Path(top["catalog"]) if Path(top["catalog"]).is_absolute() else base_dir / top["catalog"]
    name = top["name"] or Path(file).stem
    return Problem(name=name, objective=top["objective"], cycle=cycle, price_cap_usd=top["price_cap_usd"],
                   min_range_km=top["min_range_km"], payload_kg=float(payload), catalog_dir=None if catalog_dir is None else str(catalog_dir),
                   limits=limits, performance=performance, price=price, description=top["description"], file=file,
                   model_year=top["model_year"], climate=top["climate"])

