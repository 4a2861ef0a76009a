"""Fit the retail price equivalent and the sites' manufacturing-cost indices on real cars.

    pre-tax price_i = RPE x BOM_i
    BOM_i = (index[site_i] x glider_i + drive unit_i + cells_i + pack integration_i
             + fixed content + final assembly[site_i]) x (1 + vehicle duty_i)

The calibration table (configs/price_calibration.toml) gives each car's price, tax, exchange rate and
content; the fixed content and the final assembly come from the price model named in its [fit] table,
so the BOM holds exactly the content the optimizer adds. Least squares on log(price / model) (a
relative error, the same weight for a $10k and a $28k car); indices named in fixed_index are held.
`kei` reads the fitted numbers from the price models, not from here: tests check the two agree.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from kei.errors import ConfigError
from kei.optimizer.inputs.price_model import load_price_model
from kei.resources import config_file
from kei.schema import Field, read_toml, validate_table

CURRENCIES = ("usd", "eur", "jpy", "cny", "krw", "mxn")   # the quoted price's unit is in its key: price_jpy, ...
CAR_FIELDS = (
    Field("name", str, "-", "the car and its model year"),
    Field("site", str, "-", "where it is built (a site of the fit's price model)"),
    *(Field(f"price_{ccy}", float, ccy.upper(), f"list price as quoted, in {ccy.upper()} (give one price)", default=None,
            min=1.0) for ccy in CURRENCIES),
    *(Field(f"usd_per_{ccy}", float, f"USD/{ccy.upper()}", "exchange rate of the price's currency", default=None,
            min=1e-6) for ccy in CURRENCIES if ccy != "usd"),
    Field("sales_tax_rate", float, "-", "tax included in the quoted price", min=0.0, max=1.0),
    Field("glider_base_usd", float, "USD", "glider at cost index 1.00", min=0.0),
    Field("drive_unit_usd", float, "USD", "drive unit", min=0.0),
    Field("cells_usd", float, "USD", "cells, landed", min=0.0),
    Field("pack_integration_usd", float, "USD", "pack integration", min=0.0),
    Field("vehicle_duty_rate", float, "-", "duty the car paid into its market at the price date", min=0.0, max=5.0),
)
FIT_FIELDS = (
    Field("fixed_index", dict, "-", "site -> index held fixed (the reference)"),
    Field("fixed_content_price_model", str, "-", "price model whose fixed content every BOM carries"),
    Field("assembly_price_model", str, "-", "price model whose sites give the final-assembly costs"),
)


@dataclass(frozen=True)
class Car:
    name: str
    site: str
    pre_tax_price_usd: float
    glider_base_usd: float
    other_usd: float           # drive unit + cells + pack integration + fixed content + assembly
    duty_rate: float


@dataclass(frozen=True)
class Calibration:
    retail_price_equivalent: float
    cost_index: dict            # site -> index (fitted and fixed)
    cars: tuple[Car, ...]
    residuals: np.ndarray       # price / model price - 1, per car

    def model_price_usd(self, car: Car) -> float:
        return self.retail_price_equivalent * (self.cost_index[car.site] * car.glider_base_usd + car.other_usd) * (
            1 + car.duty_rate)

    @property
    def band(self) -> tuple[float, float]:
        """The smallest and largest residual: a price the model gives is the real one within this band."""
        return float(self.residuals.min()), float(self.residuals.max())


def load_cars(path: str | Path | None = None) -> tuple[tuple[Car, ...], dict, Path]:
    path = Path(path) if path is not None else config_file("price_calibration.toml")
    raw = read_toml(path)
    if "fit" not in raw or "car" not in raw:
        raise ConfigError(str(path), None, "needs a [fit] table and [[car]] entries")
    fit = validate_table(raw["fit"], FIT_FIELDS, file=path, where="fit")
    pm_fixed = load_price_model(fit["fixed_content_price_model"], file=str(path))
    pm_sites = load_price_model(fit["assembly_price_model"], file=str(path))
    cars = []
    for i, entry in enumerate(raw["car"]):
        c = validate_table(entry, CAR_FIELDS, file=path, where=f"car[{i}]")
        try:
            assembly = pm_sites.site(c["site"]).assembly_cost_usd
        except ConfigError as e:
            raise ConfigError(str(path), f"car[{i}].site", e.message if hasattr(e, "message") else str(e)) from None
        other = (c["drive_unit_usd"] + c["cells_usd"] + c["pack_integration_usd"] + pm_fixed.fixed_content_cost_usd
                 + assembly)
        price = _quoted_price_usd(c, path, i) / (1 + c["sales_tax_rate"])
        cars.append(Car(c["name"], c["site"], price, c["glider_base_usd"], other, c["vehicle_duty_rate"]))
    return tuple(cars), fit, path


def _quoted_price_usd(c: dict, path, i: int) -> float:
    given = [ccy for ccy in CURRENCIES if c[f"price_{ccy}"] is not None]
    if len(given) != 1:
        raise ConfigError(str(path), f"car[{i}]", "give the list price once, in its currency: one of "
                          + ", ".join(f"price_{ccy}" for ccy in CURRENCIES) + (f" (got {', '.join(given)})" if given else ""))
    ccy = given[0]
    if ccy == "usd":
        return c["price_usd"]
    if c[f"usd_per_{ccy}"] is None:
        raise ConfigError(str(path), f"car[{i}].usd_per_{ccy}", f"a price in {ccy.upper()} needs its exchange rate")
    return c[f"price_{ccy}"] * c[f"usd_per_{ccy}"]


def fit_price(path: str | Path | None = None) -> Calibration:
    cars, fit, path = load_cars(path)
    fixed = {k: float(v) for k, v in fit["fixed_index"].items()}
    free = sorted({c.site for c in cars} - set(fixed))
    if len(cars) < len(free) + 2:
        raise ConfigError(str(path), "car", f"{len(cars)} cars cannot fit the RPE and {len(free)} indices with a residual")
    price = np.array([c.pre_tax_price_usd for c in cars])
    glider = np.array([c.glider_base_usd for c in cars])
    other = np.array([c.other_usd for c in cars])
    duty = np.array([c.duty_rate for c in cars])

    def index_of(x):
        idx = {**fixed, **{s: float(np.exp(x[1 + i])) for i, s in enumerate(free)}}
        return idx, np.array([idx[c.site] for c in cars])

    def residual(x):
        _, idx = index_of(x)
        return np.log(price) - (x[0] + np.log((idx * glider + other) * (1 + duty)))

    sol = least_squares(residual, np.zeros(1 + len(free)), method="lm", xtol=1e-14, ftol=1e-14)
    idx, per_car = index_of(sol.x)
    rpe = float(np.exp(sol.x[0]))
    model = rpe * (per_car * glider + other) * (1 + duty)
    return Calibration(rpe, idx, cars, price / model - 1.0)
