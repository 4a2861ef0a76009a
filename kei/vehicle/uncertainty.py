"""How sure the model is: the input uncertainties (configs/uncertainty.toml) and the 90 % band of
a range or energy figure they give, drawn through the batch energy model.

    ranges = load_uncertainty()              # name -> InputUncertainty (kind, half_width_90, source)
    draws = sample_inputs(ranges, 256, seed) # name -> relative or absolute deviations, one per sample
    band_for(simulate(car, cycle))           # range_km_p05, range_km_p95, energy_wh_per_km_p05, _p95
    band_draws(result).band(residual)        # the same band at another calibration residual, no re-run

Every input is a normal distribution whose 90 % interval is +- half_width_90. The band varies the
drag area, rolling resistance, test mass, auxiliary load and usable share of the car at once
(variants of one `energy_per_km_batch` call, each driving what it can of the same trace), and
multiplies the energy by the calibration's own residual. Percentiles 5 and 95 of the draws are the
band. The design studies reuse `load_uncertainty` and `perturbed_params` for their tornado and
Monte Carlo, so both speak of the same inputs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from kei.errors import ConfigError
from kei.resources import config_file
from kei.schema import Field, read_toml, validate_table

Z_90 = 1.6448536269514722  # the 95th percentile of the standard normal: a 90 % interval is +- Z_90 sigma
INPUTS = ("drag_coefficient", "rolling_resistance_coefficient", "mass", "usable_fraction", "aux_power_w",
          "calibration_residual")
INPUT_FIELDS = (
    Field("kind", str, "-", "relative (to the nominal value) or absolute (in the input's unit)",
          choices=("relative", "absolute")),
    Field("half_width_90", float, "-", "half the width of the 90 % interval", min=0.0),
)
SAMPLING_FIELDS = (
    Field("samples", int, "-", "draws per band", min=8, max=100000),
    Field("seed", int, "-", "random seed (the same inputs give the same band)", min=0),
)


@dataclass(frozen=True)
class InputUncertainty:
    name: str
    kind: str               # "relative" or "absolute"
    half_width_90: float

    @property
    def sigma(self) -> float:
        return self.half_width_90 / Z_90


@dataclass(frozen=True)
class Uncertainty:
    inputs: dict            # name -> InputUncertainty
    samples: int
    seed: int

    def with_input(self, name: str, half_width_90: float) -> "Uncertainty":
        """A copy with one input's 90 % half-width changed (studies, tests)."""
        return replace(self, inputs={**self.inputs, name: replace(self.inputs[name], half_width_90=half_width_90)})


def load_uncertainty(path=None) -> Uncertainty:
    path = str(path if path is not None else config_file("uncertainty.toml"))
    return _load(path)


@lru_cache(maxsize=4)
def _load(path: str) -> Uncertainty:
    raw = read_toml(path)
    for key in raw:
        if key not in ("sampling", "inputs"):
            raise ConfigError(path, key, "unknown section (known: sampling, inputs)")
    sampling = validate_table(raw.get("sampling", {}), SAMPLING_FIELDS, file=path, where="sampling")
    tables = raw.get("inputs", {})
    for name in tables:
        if name not in INPUTS:
            raise ConfigError(path, f"inputs.{name}", f"unknown input (known: {', '.join(INPUTS)})")
    inputs = {}
    for name in INPUTS:
        if name not in tables:
            raise ConfigError(path, f"inputs.{name}", "missing: every input needs its range")
        inputs[name] = InputUncertainty(name, **validate_table(tables[name], INPUT_FIELDS, file=path, where=f"inputs.{name}"))
    return Uncertainty(inputs=inputs, samples=sampling["samples"], seed=sampling["seed"])


def sample_inputs(u: Uncertainty, samples: int | None = None, seed: int | None = None) -> dict[str, np.ndarray]:
    """Deviations per input, one per sample; sample 0 is the nominal car (all zero)."""
    return {name: u.inputs[name].sigma * z for name, z in standard_draws(u, samples, seed).items()}


def standard_draws(u: Uncertainty, samples: int | None = None, seed: int | None = None) -> dict[str, np.ndarray]:
    """Standard-normal draws per input (sample 0 zero), the same whatever the inputs' widths.
    Stratified (one per equal-probability stratum, shuffled per input) to keep the percentiles
    steady at a few hundred samples."""
    n = samples if samples is not None else u.samples
    rng = np.random.default_rng(u.seed if seed is None else seed)
    out = {}
    for name in u.inputs:
        strata = (np.arange(n - 1) + rng.random(n - 1)) / (n - 1)
        out[name] = np.concatenate([[0.0], normal_quantile(rng.permutation(strata))])
    return out


def perturbed_params(p, draws: dict[str, np.ndarray], u: Uncertainty):
    """`p` (one car) as one variant per draw: drag area, rolling resistance (with a coastdown's f0),
    test mass, auxiliary load and usable share moved by their draws."""
    from kei.vehicle.energy import batch_params

    def moved(name, value):
        d = draws[name]
        return value * (1.0 + d) if u.inputs[name].kind == "relative" else value + d

    usable = np.clip(moved("usable_fraction", float(p.usable_fraction)), 0.05, 1.0)
    return batch_params(
        p, drag_area_m2=np.maximum(moved("drag_coefficient", float(p.drag_area_m2)), 0.0),
        rolling_resistance_coefficient=np.maximum(moved("rolling_resistance_coefficient",
                                                        float(p.rolling_resistance_coefficient)), 0.0),
        road_load_f0_n=np.maximum(moved("rolling_resistance_coefficient", float(p.road_load_f0_n)), 0.0),
        mass_kg=np.maximum(moved("mass", float(p.mass_kg)), 1.0),
        aux_power_w=np.maximum(moved("aux_power_w", float(p.aux_power_w)), 0.0),
        usable_fraction=usable)


@dataclass(frozen=True)
class BandDraws:
    """The varied runs of one SimResult, before the calibration residual: the costly half of its band
    (one batch run), kept so that the band can be taken again at another residual without re-running."""
    result: object
    whkm: np.ndarray            # energy per km of each variant (sample 0 the nominal car)
    usable_ratio: np.ndarray    # each variant's usable share over the nominal one
    residual_z: np.ndarray      # the calibration residual's standard-normal draws (sample 0 zero)

    def band(self, residual: InputUncertainty) -> dict:
        """range_km_p05/_p95 and energy_wh_per_km_p05/_p95 (and ac_energy_...) with this residual."""
        r = self.result
        factor = 1.0 + residual.sigma * self.residual_z if residual.kind == "relative" else 1.0
        energy = r.energy_wh_per_km * self.whkm / self.whkm[0] * factor
        rng = r.range_km * self.whkm[0] / (self.whkm * factor) * self.usable_ratio
        ac = energy * (r.ac_energy_wh_per_km / r.energy_wh_per_km)
        return {"range_km_p05": float(np.percentile(rng, 5)), "range_km_p95": float(np.percentile(rng, 95)),
                "energy_wh_per_km_p05": float(np.percentile(energy, 5)),
                "energy_wh_per_km_p95": float(np.percentile(energy, 95)),
                "ac_energy_wh_per_km_p05": float(np.percentile(ac, 5)), "ac_energy_wh_per_km_p95": float(np.percentile(ac, 95)),
                "samples": len(rng)}


def band_draws(result, u: Uncertainty | None = None) -> BandDraws | None:
    """The batch run behind a SimResult's band; None where it has no finite range (a trace that
    recharges the pack), and so no band."""
    from kei.vehicle.energy import energy_per_km_batch

    u = u or load_uncertainty()
    if (result.params is None or result.run_cycle is None or not math.isfinite(result.energy_wh_per_km)
            or not math.isfinite(result.range_km) or result.energy_wh_per_km <= 0):
        return None
    batch = perturbed_params(result.params, sample_inputs(u), u)
    return BandDraws(result, energy_per_km_batch(batch, result.run_cycle),
                     np.asarray(batch.usable_fraction) / float(result.params.usable_fraction),
                     standard_draws(u)["calibration_residual"])


def band_for(result, u: Uncertainty | None = None) -> dict:
    """range_km_p05/_p95 and energy_wh_per_km_p05/_p95 (and ac_energy_...) of a SimResult."""
    u = u or load_uncertainty()
    drawn = band_draws(result, u)
    return drawn.band(u.inputs["calibration_residual"]) if drawn else {}


def normal_quantile(p: np.ndarray) -> np.ndarray:
    """Inverse standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9): numpy has none."""
    a = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
         -3.066479806614716e+01, 2.506628277459239e+00)
    b = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
         -1.328068155288572e+01)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
         4.374664141464968e+00, 2.938163982698783e+00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00)
    p = np.clip(np.asarray(p, dtype=float), 1e-12, 1 - 1e-12)
    out = np.empty_like(p)
    low, high = p < 0.02425, p > 1 - 0.02425
    mid = ~(low | high)
    q = p[mid] - 0.5
    r = q * q
    out[mid] = ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
                / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1))
    for mask, sign in ((low, 1.0), (high, -1.0)):
        pp = p[mask] if sign > 0 else 1 - p[mask]
        q = np.sqrt(-2 * np.log(pp))
        out[mask] = sign * ((((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                            / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1))
    return out
