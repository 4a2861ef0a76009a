"""Price models (`configs/price_models/`): from the bill of materials to the retail price.

    retail = factory cost at the assembly site + vehicle duty - manufacturing credit)
             x retail_price_equivalent x (1 + sales_tax_rate)
    factory cost = glider (base cost x the site's cost index) + drive unit + cells (+ their part
                   duties where the site is in the market) + pack integration + lightweighting
                   + fixed content + the site's final assembly
    vehicle duty = the site's rate x (factory cost - content from its duty-exempt origins)

The assembly site is a decision of the MILP (`[sites.<name>]`, optimizer/milp/site.py). For a
fixed site everything is linear in the part choices, which is what lets the MILP carry it exactly.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kei.errors import ConfigError
from kei.resources import config_file, names
from kei.schema import Field, read_toml, validate_table

PRICE_FIELDS = (
    Field("description", str, "-", "what market and year the model describes", default=""),
    Field("market", str, "-", "region code of the market the car is sold in"),
    Field("retail_price_equivalent", float, "-", "retail price / direct manufacturing cost (RPE)", min=0.5, max=5.0),
    Field("sales_tax_rate", float, "-", "tax included in the quoted price", min=0.0, max=1.0),
    Field("calibration_residual_low", float, "-", "smallest price / model price - 1 of the calibration cars",
          min=-1.0, max=0.0, default=0.0),
    Field("calibration_residual_high", float, "-", "largest price / model price - 1 of the calibration cars",
          min=0.0, max=5.0, default=0.0),
    Field("fixed_content_cost_usd", float, "USD", "parts every design carries (charger, DC/DC, thermal, ...)", min=0.0),
    Field("fixed_content_mass_kg", float, "kg", "mass of the fixed content", min=0.0),
    Field("apply_manufacturing_credit", bool, "-", "take the market's production credit (US: Section 45X)",
          default=False),
    Field("cell_credit_usd_per_kwh", float, "USD/kWh", "credit on cells made in credit_country", min=0.0, default=0.0),
    Field("module_credit_usd_per_kwh", float, "USD/kWh", "credit on modules (packs) assembled in credit_country",
          min=0.0, default=0.0),
    Field("credit_country", str, "-", "where cells and modules earn the credit", default=""),
    Field("allowed_sites", list, "-", "assembly sites the MILP may choose (empty: all of [sites])", default=[]),
)
RATE_TABLES = ("tariff_rate_by_origin", "cell_tariff_rate_by_origin")
RULE_TABLE = "tariff_rule_by_origin"
SITES_TABLE = "sites"
SITE_FIELDS = (
    Field("country", str, "-", "region code of the site (its parts are made there); default: the site's name",
          default=""),
    Field("cost_index", float, "-", "manufacturing-cost index of a glider built there (EU/US = 1.00)", min=0.1, max=3.0),
    Field("assembly_cost_usd", float, "USD", "final assembly, paint and end-of-line test per car", min=0.0),
    Field("vehicle_duty_rate", float, "-", "duty on the car imported into the market (0 at home)", min=0.0, max=5.0),
    Field("vehicle_duty_rule", str, "-", "the rule that sets the vehicle duty", default=""),
    Field("duty_exempt_origins", list, "-", "origins whose content is deducted from the dutiable value", default=[]),
    Field("regional_value_content_min", float, "-", "share of the factory cost that must come from "
          "regional_origins for the site's duty rule to apply (0: none)", min=0.0, max=1.0, default=0.0),
    Field("regional_origins", list, "-", "origins that count as regional content", default=[]),
    Field("battery_regional_value_content_min", float, "-", "the same share for the battery alone (a core "
          "part: cells + pack integration), 0: none", min=0.0, max=1.0, default=0.0),
)


@dataclass(frozen=True)
class Site:
    """Where the car is assembled, and how the market's customs treat a car built there."""

    name: str
    country: str
    cost_index: float
    assembly_cost_usd: float
    vehicle_duty_rate: float
    vehicle_duty_rule: str = ""
    duty_exempt_origins: tuple[str, ...] = ()
    regional_value_content_min: float = 0.0
    regional_origins: tuple[str, ...] = ()
    battery_regional_value_content_min: float = 0.0


@dataclass(frozen=True)
class PriceModel:
    name: str
    market: str
    retail_price_equivalent: float
    sales_tax_rate: float
    fixed_content_cost_usd: float
    fixed_content_mass_kg: float
    tariff_rate_by_origin: tuple[tuple[str, float], ...]
    sites: tuple[Site, ...]
    calibration_residual_low: float = 0.0
    calibration_residual_high: float = 0.0
    cell_tariff_rate_by_origin: tuple[tuple[str, float], ...] = ()
    tariff_rule_by_origin: tuple[tuple[str, str], ...] = ()
    apply_manufacturing_credit: bool = False
    cell_credit_usd_per_kwh: float = 0.0
    module_credit_usd_per_kwh: float = 0.0
    credit_country: str = ""
    allowed_sites: tuple[str, ...] = ()
    description: str = ""
    file: str = ""

    def price_band_usd(self, price_usd: float) -> tuple[float, float]:
        """The real price a model price stands for, within the calibration's residuals."""
        return price_usd * (1 + self.calibration_residual_low), price_usd * (1 + self.calibration_residual_high)

    @property
    def open_sites(self) -> tuple[Site, ...]:
        """The sites the MILP may choose from (allowed_sites, or all)."""
        return tuple(s for s in self.sites if not self.allowed_sites or s.name in self.allowed_sites)

    def site(self, name: str) -> Site:
        for s in self.sites:
            if s.name == name:
                return s
        raise ConfigError(self.file or self.name, f"sites.{name}", f"no site {name!r}; known: "
                          + ", ".join(s.name for s in self.sites))

    def tariff_rule(self, origin: str, *, cell: bool = False) -> str:
        rules = dict(self.tariff_rule_by_origin)
        if cell and f"{origin}_cells" in rules:
            return rules[f"{origin}_cells"]
        return rules.get(origin, f"duty on parts from {origin}")

    @property
    def price_per_bom_usd(self) -> float:
        """Retail dollars per dollar of bill of materials."""
        return self.retail_price_equivalent * (1.0 + self.sales_tax_rate)

    def tariff_rate(self, origin: str, *, part: str = "", cell: bool = False) -> float:
        """Tariff rate on a part made in `origin`; an origin the model does not know is an error
        naming the part and the price-model file."""
        if cell:
            rates = dict(self.cell_tariff_rate_by_origin)
            if origin in rates:
                return rates[origin]
        rates = dict(self.tariff_rate_by_origin)
        if origin not in rates:
            what = f" (part {part})" if part else ""
            raise ConfigError(self.file or self.name, f"tariff_rate_by_origin.{origin}",
                              f"no tariff rate for origin {origin!r}{what}; known: {', '.join(rates)}")
        return rates[origin]



def _rates(table, file: str, key: str) -> tuple[tuple[str, float], ...]:
    if not isinstance(table, dict):
        raise ConfigError(file, key, f"expected a table origin = rate, got {table!r}")
    out = []
    for origin, rate in table.items():
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate <= 5.0:
            raise ConfigError(file, f"{key}.{origin}", f"expected a rate between 0 and 5 (0.25 = 25 %), got {rate!r}")
        out.append((origin, float(rate)))
    return tuple(out)


def load_price_model(name_or_path: str, overrides: dict | None = None, *, file: str = "<problem>") -> PriceModel:
    """A bundled price model by name (`us_2025`) or a TOML path, with a problem's [price] overrides:
    scalar keys replace the model's, rate tables are merged origin by origin."""
    path = Path(name_or_path)
    if not path.suffix:
        path = config_file(f"price_models/{name_or_path}.toml")
    if not path.is_file():
        known = ", ".join(names("price_models"))
        raise ConfigError(file, "price.model", f"no price model {name_or_path!r} (bundled: {known})")
    raw = read_toml(path)
    base = validate_table(raw, PRICE_FIELDS, file=str(path), allow_subtables=RATE_TABLES + (RULE_TABLE, SITES_TABLE))
    overrides = dict(overrides or {})
    scalars = {k: v for k, v in overrides.items() if k not in RATE_TABLES + (RULE_TABLE, SITES_TABLE)}
    optional = tuple(Field(f.name, f.kind, f.unit, f.description, default=None, min=f.min, max=f.max)
                     for f in PRICE_FIELDS)
    checked = validate_table(scalars, optional, file=file, where="price")
    merged = {**{k: base[k] for k in (f.name for f in PRICE_FIELDS)}, **{k: checked[k] for k in scalars}}
    rates = {}
    for key in RATE_TABLES:
        table = dict(_rates(base.get(key, {}), str(path), key))
        table.update(_rates(overrides.get(key, {}), file, f"price.{key}"))
        rates[key] = tuple(table.items())
    rules = {**_rules(base.get(RULE_TABLE, {}), str(path)), **_rules(overrides.get(RULE_TABLE, {}), file)}
    sites = _sites(base.get(SITES_TABLE), overrides.get(SITES_TABLE, {}), str(path), file)
    merged["allowed_sites"] = tuple(merged.get("allowed_sites") or ())
    unknown = [s for s in merged["allowed_sites"] if s not in {x.name for x in sites}]
    if unknown:
        raise ConfigError(file, "price.allowed_sites", f"no site {unknown[0]!r}; known: "
                          + ", ".join(x.name for x in sites))
    return PriceModel(name=path.stem, file=str(path), **merged, **rates, sites=sites,
                      tariff_rule_by_origin=tuple(rules.items()))


def _rules(table, file: str) -> dict:
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise ConfigError(file, RULE_TABLE, f"expected a table origin = \"rule name\", got {table!r}")
    return dict(table)


def _sites(table, overrides, file: str, override_file: str) -> tuple[Site, ...]:
    """[sites.<name>] tables; a problem's [price.sites.<name>] entries replace keys of a known site."""
    if not isinstance(table, dict) or not table:
        raise ConfigError(file, SITES_TABLE, "a price model needs at least one assembly site ([sites.<name>])")
    if not isinstance(overrides, dict):
        raise ConfigError(override_file, f"price.{SITES_TABLE}", f"expected a table of sites, got {overrides!r}")
    for name in overrides:
        if name not in table:
            raise ConfigError(override_file, f"price.{SITES_TABLE}.{name}",
                              f"no site {name!r} in {file}; known: {', '.join(table)}")
    optional = tuple(Field(f.name, f.kind, f.unit, f.description, default=None, min=f.min, max=f.max)
                     for f in SITE_FIELDS)
    out = []
    for name, raw in table.items():
        if not isinstance(raw, dict):
            raise ConfigError(file, f"{SITES_TABLE}.{name}", f"expected a table, got {raw!r}")
        values = validate_table(raw, SITE_FIELDS, file=file, where=f"{SITES_TABLE}.{name}")
        if name in overrides:
            changed = validate_table(overrides[name], optional, file=override_file, where=f"price.{SITES_TABLE}.{name}")
            values.update({k: v for k, v in changed.items() if k in overrides[name]})
        for key in ("duty_exempt_origins", "regional_origins"):
            if not all(isinstance(x, str) for x in values[key]):
                raise ConfigError(file, f"{SITES_TABLE}.{name}.{key}", "expected a list of region codes")
            values[key] = tuple(values[key])
        values["country"] = values["country"] or name
        out.append(Site(name=name, **values))
    return tuple(out)
