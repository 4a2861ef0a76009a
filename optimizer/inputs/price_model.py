"""Price models (`configs/price_models/`): from the bill of materials to the retail price.

    retail = (landed part costs + pack integration + lightweighting + fixed content + assembly)
             x retail_price_equivalent x (1 + sales_tax_rate)
    landed part cost = cost to the car maker x (1 + tariff rate of the part's origin)

Everything is linear in the part choices, which is what lets the MILP carry the price exactly.
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
    Field("retail_price_equivalent", float, "-", "retail price / direct manufacturing cost (RPE)", min=1.0, max=5.0),
    Field("sales_tax_rate", float, "-", "tax included in the quoted price", min=0.0, max=1.0),
    Field("assembly_cost_usd", float, "USD", "final assembly, paint and test per car", min=0.0),
    Field("fixed_content_cost_usd", float, "USD", "parts every design carries (charger, DC/DC, thermal, ...)", min=0.0),
    Field("fixed_content_mass_kg", float, "kg", "mass of the fixed content", min=0.0),
    Field("pack_integration_origin", str, "-", "where packs are assembled (tariff on pack integration)"),
)
RATE_TABLES = ("tariff_rate_by_origin", "cell_tariff_rate_by_origin")


@dataclass(frozen=True)
class PriceModel:
    name: str
    market: str
    retail_price_equivalent: float
    sales_tax_rate: float
    assembly_cost_usd: float
    fixed_content_cost_usd: float
    fixed_content_mass_kg: float
    pack_integration_origin: str
    tariff_rate_by_origin: tuple[tuple[str, float], ...]
    cell_tariff_rate_by_origin: tuple[tuple[str, float], ...] = ()
    description: str = ""
    file: str = ""

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

    @property
    def pack_integration_tariff_rate(self) -> float:
        return self.tariff_rate(self.pack_integration_origin, part="pack integration")


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
    base = validate_table(raw, PRICE_FIELDS, file=str(path), allow_subtables=RATE_TABLES)
    overrides = dict(overrides or {})
    scalars = {k: v for k, v in overrides.items() if k not in RATE_TABLES}
    optional = tuple(Field(f.name, f.kind, f.unit, f.description, default=None, min=f.min, max=f.max)
                     for f in PRICE_FIELDS)
    checked = validate_table(scalars, optional, file=file, where="price")
    merged = {**{k: base[k] for k in (f.name for f in PRICE_FIELDS)}, **{k: checked[k] for k in scalars}}
    rates = {}
    for key in RATE_TABLES:
        table = dict(_rates(base.get(key, {}), str(path), key))
        table.update(_rates(overrides.get(key, {}), file, f"price.{key}"))
        rates[key] = tuple(table.items())
    return PriceModel(name=path.stem, file=str(path), **merged, **rates)
