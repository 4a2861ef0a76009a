"""Uncertain inputs (`configs/studies/uncertain_inputs.toml`): what the tornado moves and Monte Carlo draws.

Each `[[input]]` names a dotted key (optimizer/studies/overrides.py), how it varies (`apply = "scale"`
multiplies the configured values, so the range follows the config when a figure is updated; `"value"`
sets it), its low and high and a nominal, its distribution, and where the range comes from:

    [[input]]
    name = "glider cost"
    key = "catalog.bodies.*.cost_usd"
    apply = "scale"
    low = 0.85
    nominal = 1.0
    high = 1.15
    distribution = "triangular"     # uniform, or triangular with its mode at the nominal
    side = "cost"                   # cost or energy
    basis = "estimate"              # estimate, published or measured
    source = "carculator glider formula ... (docs/catalog.md)"
    date = "2025-12"

The energy side takes its ranges from the energy model's own uncertainty (configs/uncertainty.toml,
the inputs of every range's 90 % band), so the studies and the band can never disagree: such an
input names `energy_model_input` instead of low, nominal, high, distribution, basis and source;
it is drawn from the same normal distribution, and its tornado ends are its 90 % interval:

    [[input]]
    name = "drag coefficient"
    key = "catalog.bodies.*.drag_coefficient"
    apply = "scale"
    energy_model_input = "drag_coefficient"
    side = "energy"
    date = "2025-12"

Drawing is by inverse CDF from one uniform number per input, from a generator seeded by (seed,
sample index): sample i is the same whatever the sample count, the executor or the order in which
the samples are solved.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from kei.errors import ConfigError, UsageError
from kei.optimizer.studies.overrides import SCALE, SET, Override, check_key
from kei.resources import config_file
from kei.schema import Field, read_toml, validate_table
from kei.vehicle.files import load_model_defaults
from kei.vehicle.uncertainty import Z_90, load_uncertainty, normal_quantile

DISTRIBUTIONS = ("uniform", "triangular", "normal90")  # normal90: normal, 90 % of it in [low, high]
FROM_ENERGY_MODEL = ("low", "nominal", "high", "distribution", "basis", "source")
FIELDS = (
    Field("name", str, "-", "what the input is, in a few words"),
    Field("key", str, "-", "dotted key of the number(s) it moves"),
    Field("apply", str, "-", "scale: multiply the configured values; value: set the value", choices=("scale", "value")),
    Field("low", float, "key's unit or factor", "low end of the range"),
    Field("nominal", float, "key's unit or factor", "the configured value (1.0 for a scale); the triangular mode"),
    Field("high", float, "key's unit or factor", "high end of the range"),
    Field("distribution", str, "-", "how Monte Carlo draws it", choices=DISTRIBUTIONS),
    Field("side", str, "-", "which half of the model it belongs to", choices=("cost", "energy")),
    Field("basis", str, "-", "how the range was found", choices=("estimate", "published", "measured", "energy_model")),
    Field("source", str, "-", "where the range comes from"),
    Field("date", str, "-", "when the source was read or published (YYYY-MM)"),
    Field("energy_model_input", str, "-", "take the range from this input of configs/uncertainty.toml", default=""),
)


@dataclass(frozen=True)
class UncertainInput:
    name: str
    key: str
    apply: str
    low: float
    nominal: float
    high: float
    distribution: str
    side: str
    basis: str
    source: str
    date: str
    energy_model_input: str = ""   # set: the range is the energy model's (configs/uncertainty.toml)

    def override(self, value: float) -> Override:
        return Override(self.key, SCALE if self.apply == "scale" else SET, value)

    def draw(self, u: float) -> float:
        """The value at quantile `u` of the distribution (inverse CDF)."""
        a, c, b = self.low, self.nominal, self.high
        if self.distribution == "normal90":
            # Clipped at zero as the energy model's band clips the same draws (perturbed_params): every
            # linked input is a non-negative quantity (a scale factor, a share, a power).
            return max(c + (b - c) * float(normal_quantile(np.array([u]))[0]) / Z_90, 0.0)
        if self.distribution == "uniform" or b == a:
            return a + u * (b - a)
        split = (c - a) / (b - a)
        if u < split:
            return a + float(np.sqrt(u * (b - a) * (c - a)))
        return b - float(np.sqrt((1.0 - u) * (b - a) * (b - c)))

    def to_dict(self) -> dict:
        return asdict(self)


def inputs_from_dicts(tables, *, file: str = "<inputs>") -> tuple[UncertainInput, ...]:
    if not isinstance(tables, list) or not tables:
        raise ConfigError(file, "input", "expected one or more [[input]] tables")
    out = []
    for i, table in enumerate(tables):
        where = f"input[{i}]"
        if isinstance(table, dict) and table.get("energy_model_input"):
            table = _from_energy_model(table, file, where)
        values = validate_table(table, FIELDS, file=file, where=where)
        try:
            check_key(values["key"], "key")
        except UsageError as err:
            raise ConfigError(file, f"{where}.key", str(err)) from err
        if not values["low"] <= values["nominal"] <= values["high"]:
            raise ConfigError(file, f"{where}.nominal", f"needs low <= nominal <= high, got {values['low']} <= "
                              f"{values['nominal']} <= {values['high']}")
        out.append(UncertainInput(**values))
    names = [x.name for x in out]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(file, "input", f"two inputs are named {name!r}")
    return tuple(out)


def _from_energy_model(table: dict, file: str, where: str) -> dict:
    """An energy-side input completed from configs/uncertainty.toml: a relative input scales the
    key by 1 -+ its half-width; an absolute one sets it to the configured model default -+ it."""
    given = [k for k in FROM_ENERGY_MODEL if k in table]
    if given:
        raise ConfigError(file, f"{where}.{given[0]}", "comes from configs/uncertainty.toml with energy_model_input")
    name = table["energy_model_input"]
    energy = load_uncertainty()
    if name not in energy.inputs:
        raise ConfigError(file, f"{where}.energy_model_input",
                          f"{name!r} is not an input of configs/uncertainty.toml (have: {', '.join(energy.inputs)})")
    spec = energy.inputs[name]
    if spec.kind == "relative":
        if table.get("apply") != "scale":
            raise ConfigError(file, f"{where}.apply", f"{name} is relative in configs/uncertainty.toml: use apply = \"scale\"")
        nominal = 1.0
    else:
        parts = str(table.get("key", "")).split(".")
        if table.get("apply") != "value" or len(parts) != 3 or parts[0] != "defaults":
            raise ConfigError(file, f"{where}.key", f"{name} is absolute in configs/uncertainty.toml: it sets a model "
                              "default (key = \"defaults.SECTION.KEY\", apply = \"value\")")
        nominal = float(load_model_defaults()[parts[1]][parts[2]])
    return {**table, "low": nominal - spec.half_width_90, "nominal": nominal, "high": nominal + spec.half_width_90,
            "distribution": "normal90", "basis": "energy_model",
            "source": f"the energy model's 90 % band: configs/uncertainty.toml [inputs.{name}] ({spec.kind} "
                      f"+-{spec.half_width_90:g}, its source beside it)"}


def load_uncertain_inputs(path: str | Path | None = None) -> tuple[UncertainInput, ...]:
    """The inputs of a file (default: the bundled configs/studies/uncertain_inputs.toml)."""
    path = Path(path) if path is not None else config_file("studies/uncertain_inputs.toml")
    raw = read_toml(path)
    top = validate_table(raw, (), file=path, allow_subtables=("input",))
    return inputs_from_dicts(top.get("input", []), file=str(path))


def sample_values(inputs: tuple[UncertainInput, ...], seed: int, index: int) -> list[float]:
    """Sample `index`'s value of every input: one uniform number each, in the inputs' order."""
    u = np.random.default_rng([seed, index]).random(len(inputs))
    return [x.draw(float(q)) for x, q in zip(inputs, u)]
