"""Energy per km against test mass for every motor x body pair, from the energy model, fitted linearly.

ONE vectorized `energy_per_km_batch` call per cycle evaluates every pair at `fit_mass_points`
masses over the pair's feasible mass range with a loss-free pack (terminal = chemical energy), plus
each pair at its middle mass with a resistive reference pack. From these:

- `intercept_wh_per_km + slope_wh_per_km_per_kg x mass`: the least-squares line through the masses
  (its largest relative deviation from the model is `max_rel_error`, reported to the user);
- `loss_power_w` (P_eff = sum P^2 dt / sum P dt over the cycle): the pack's resistive loss per km is
  (R / V^2) x P_eff x (Wh/km) to first order, which for a pack of N cells with resistance r and
  voltage v is P_eff r / (v^2 N): the MILP carries it exactly per cell type (see docs/optimizer.md).

The motor's efficiency map is the generic map of configs/model_defaults.toml scaled to the motor's
peak efficiency (s = peak / max of the map). The batch takes one map for all variants, so the scale
is carried by the driveline efficiency (eta_d x s) with peak power and torque divided by s: this is
exact for traction (same load fraction, same limits, same electrical power) and shifts only the
regeneration map lookup by s^2 (< 0.1 % of the energy); the verification step simulates the real map.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from kei.optimizer.prepare.charge_lines import charge_loss_wh_per_km
from kei.units import KMH_PER_MPS
from kei.vehicle.cycles import Cycle
from kei.vehicle.energy import energy_per_km_batch, params_from_defaults

# The reference pack only sets the finite-difference step that measures P_eff: a pack losing this
# share of the power at the motor's peak output keeps the loss first-order (second-order terms are
# ~2 x 3 % of a ~1 % loss). A numerical step, not a physical figure.
REFERENCE_LOSS_AT_PEAK = 0.03


@dataclass(frozen=True)
class PairPhysics:
    """What the energy model needs of each motor x body pair (1-D arrays, one entry per pair)."""

    drag_area_m2: np.ndarray
    rolling_resistance_coefficient: np.ndarray
    peak_power_w: np.ndarray
    peak_torque_nm: np.ndarray
    max_speed_rpm: np.ndarray
    gear_ratio: np.ndarray
    map_scale: np.ndarray          # peak efficiency / max of the generic map


@dataclass(frozen=True)
class EnergyFit:
    intercept_wh_per_km: np.ndarray
    slope_wh_per_km_per_kg: np.ndarray
    loss_power_w: np.ndarray
    max_rel_error: np.ndarray
    mass_lo_kg: np.ndarray
    mass_hi_kg: np.ndarray
    variants: int
    seconds: float
    # per pair x energy-affecting content option (prepare/content.py): the change of Wh/km the option
    # makes, delta = option_intercept + option_slope x mass (loss-free pack, same masses as the fit)
    option_intercept_wh_per_km: np.ndarray | None = None
    option_slope_wh_per_km_per_kg: np.ndarray | None = None
    # what the pack's charge acceptance adds (prepare/charge_limit.py): per pair (pairs, planes), the
    # loss L >= a x test mass + b x pack charge power + c (Wh/km), L >= 0
    charge_a_wh_per_km_per_kg: np.ndarray | None = None
    charge_b_wh_per_km_per_w: np.ndarray | None = None
    charge_c_wh_per_km: np.ndarray | None = None

    def wh_per_km(self, pair: int, mass_kg: float) -> float:
        return float(self.intercept_wh_per_km[pair] + self.slope_wh_per_km_per_kg[pair] * mass_kg)

    def charge_loss_wh_per_km(self, pair: int, mass_kg: float, charge_w: float) -> float:
        """The energy per km a pack absorbing at most `charge_w` adds (0 without a charge-limit fit)."""
        if self.charge_a_wh_per_km_per_kg is None:
            return 0.0
        return float(charge_loss_wh_per_km(self.charge_a_wh_per_km_per_kg[pair], self.charge_b_wh_per_km_per_w[pair],
                                           self.charge_c_wh_per_km[pair], mass_kg, charge_w))

    def option_wh_per_km(self, pair: int, option: int, mass_kg: float) -> float:
        """What energy option `option` (its index among the fitted options) adds to the pair's Wh/km."""
        return float(self.option_intercept_wh_per_km[pair, option] + self.option_slope_wh_per_km_per_kg[pair, option] * mass_kg)


def fit_energy(phys: PairPhysics, mass_lo_kg: np.ndarray, mass_hi_kg: np.ndarray, cycle: Cycle,
               defaults: dict, *, top_speed_kmh: float | None, mass_points: int,
               options: tuple[tuple[float, float, float], ...] = (), tyre_crr: np.ndarray | None = None) -> EnergyFit:
    """Fit Wh/km(mass) for every pair over [mass_lo_kg, mass_hi_kg] (see the module docstring).

    `options` (drag-area scale, tyre rolling-coefficient scale, auxiliary power added in W), one per
    content option with an energy effect: each adds `mass_points` loss-free variants per pair at the
    same masses, in the same batch, and its delta against the base line is fitted the same way (the
    least-squares line of the differences). `tyre_crr`: the bodies' own tyre coefficient per pair (the
    scale applies to it, not to the road-load convention's parasitic share)."""
    start = time.perf_counter()
    n_pairs = len(mass_lo_kg)
    grid = np.linspace(0.0, 1.0, mass_points)
    masses = mass_lo_kg[:, None] + (mass_hi_kg - mass_lo_kg)[:, None] * grid[None, :]   # pairs x points
    mid = mass_points // 2

    n_opt = len(options)
    reps = mass_points + 1 + n_opt * mass_points  # mass grid loss-free, middle mass with the reference pack, options
    mass = np.concatenate([masses, masses[:, mid:mid + 1]] + [masses] * n_opt, axis=1).ravel()
    reference_r = REFERENCE_LOSS_AT_PEAK / phys.peak_power_w  # ohm at 1 V: loss share = P R / V^2
    resistance = np.concatenate([np.zeros((n_pairs, mass_points)), reference_r[:, None],
                                 np.zeros((n_pairs, n_opt * mass_points))], axis=1).ravel()
    tyre = phys.rolling_resistance_coefficient if tyre_crr is None else np.asarray(tyre_crr, dtype=float)
    cda_v = np.repeat(np.asarray(phys.drag_area_m2, dtype=float)[:, None], reps, axis=1)
    crr_v = np.repeat(np.asarray(phys.rolling_resistance_coefficient, dtype=float)[:, None], reps, axis=1)
    aux_v = np.full((n_pairs, reps), float(defaults["auxiliary"]["power_w"]))
    for k, (cda_scale, crr_scale, aux_w) in enumerate(options):
        cols = slice(mass_points + 1 + k * mass_points, mass_points + 1 + (k + 1) * mass_points)
        cda_v[:, cols] *= cda_scale
        crr_v[:, cols] -= (1.0 - crr_scale) * tyre[:, None]
        aux_v[:, cols] += aux_w
    params = pair_params(phys, defaults, reps, top_speed_kmh, mass_kg=mass, drag_area_m2=cda_v.ravel(),
                         rolling_resistance_coefficient=crr_v.ravel(), aux_power_w=aux_v.ravel(),
                         pack_resistance_ohm=resistance)
    whkm = energy_per_km_batch(params, cycle).reshape(n_pairs, reps)
    lossless, lossy = whkm[:, :mass_points], whkm[:, mass_points]

    x = masses - masses.mean(axis=1, keepdims=True)
    sxx = (x * x).sum(axis=1)

    def line(y):  # least-squares line per pair (closed form, vectorized)
        y_mean = y.mean(axis=1, keepdims=True)
        b = np.where(sxx > 0, (x * (y - y_mean)).sum(axis=1) / np.where(sxx > 0, sxx, 1.0), 0.0)
        return y_mean[:, 0] - b * masses.mean(axis=1), b

    intercept, slope = line(lossless)
    opt_a, opt_b = np.zeros((n_pairs, n_opt)), np.zeros((n_pairs, n_opt))
    for k in range(n_opt):
        start = mass_points + 1 + k * mass_points
        opt_a[:, k], opt_b[:, k] = line(whkm[:, start:start + mass_points] - lossless)
    fitted = intercept[:, None] + slope[:, None] * masses
    max_rel_error = np.abs(fitted / lossless - 1.0).max(axis=1)
    loss_power = (lossy / lossless[:, mid] - 1.0) / reference_r
    return EnergyFit(intercept_wh_per_km=intercept, slope_wh_per_km_per_kg=slope, loss_power_w=loss_power,
                     max_rel_error=max_rel_error, mass_lo_kg=np.asarray(mass_lo_kg, float),
                     mass_hi_kg=np.asarray(mass_hi_kg, float), variants=n_pairs * reps,
                     seconds=time.perf_counter() - start, option_intercept_wh_per_km=opt_a,
                     option_slope_wh_per_km_per_kg=opt_b)


def pair_params(phys: PairPhysics, defaults: dict, reps: int, top_speed_kmh: float | None, **variants):
    """The batch parameters of every pair repeated `reps` times: the generic defaults (regen, aux,
    road-load convention, ...), the pairs' own figures on top, then `variants` (per-variant arrays).
    The pack is a 1 V pack (only R / V^2 matters, so R in ohm is the loss per watt and a current in A
    is a power in W) that takes any current unless a variant says otherwise."""
    scale = phys.map_scale

    def per_variant(values):
        return np.repeat(np.asarray(values, dtype=float), reps)

    fields_ = dict(
        drag_area_m2=per_variant(phys.drag_area_m2),
        rolling_resistance_coefficient=per_variant(phys.rolling_resistance_coefficient),
        driveline_efficiency=per_variant(defaults["driveline"]["efficiency"] * scale),
        gear_ratio=per_variant(phys.gear_ratio),
        motor_peak_power_w=per_variant(phys.peak_power_w / scale),
        motor_peak_torque_nm=per_variant(phys.peak_torque_nm / scale),
        motor_max_speed_rpm=per_variant(phys.max_speed_rpm),
        top_speed_mps=top_speed_kmh / KMH_PER_MPS if top_speed_kmh else np.inf,
        pack_voltage_v=1.0,
        pack_resistance_ohm=0.0,
        pack_max_discharge_current_a=np.inf,
        pack_max_charge_current_a=np.inf,
        pack_energy_wh=1.0,  # not used by energy per km
        usable_fraction=1.0,
    )
    fields_.update(variants)
    return params_from_defaults(defaults, **fields_)
