"""Everything the MILP builders need, as plain numbers: `prepare(catalog, problem, ...) -> ModelData`.

This is the "fit" step of validate -> fit -> build -> solve: parts are screened against the
regulatory limits, each motor x body pair gets its feasible test-mass range, its performance mass
limit (0-100 km/h, top speed, grade, cycle following; exact per pair) and its energy-per-km fit, and
every cost is turned into a landed retail contribution. The builders only read this object.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field

import numpy as np

from kei.errors import ConfigError, InfeasibleError
from kei.optimizer.inputs.pack_layout import parallel_limits
from kei.optimizer.inputs.parts import BodySpec, Catalog, CellSpec, MotorSpec
from kei.optimizer.inputs.problem import Problem
from kei.optimizer.prepare.charge_limit import charge_levels_w_per_kg, fit_charge_limit
from kei.optimizer.prepare.content import ContentData, option_cost_range_usd, option_mass_range_kg, prepare_content
from kei.optimizer.prepare.fit import EnergyFit, PairPhysics, fit_energy
from kei.optimizer.prepare.performance import (
    Road,
    accel_mass_limit,
    accel_time_s,
    cycle_mass_limit,
    steady_speed_mass_limit,
    steady_speed_wheel_power_w,
    vehicle_speed_limit_mps,
)
from kei.optimizer.prepare.screen import Rejection, explain_empty, screen_bodies, screen_motors
from kei.optimizer.prepare.sites import SiteData, prepare_sites
from kei.optimizer.solving.solver import SolverSettings
from kei.vehicle.cycles import Cycle
from kei.vehicle.energy import charge_power_limit_w, road_load_from_body

PERF_NAMES = ("accel_0_100", "top_speed", "grade", "cycle")
CONTINUOUS_NAMES = ("top_speed", "grade")   # the needs held for minutes: the pack's continuous rate feeds them


@dataclass
class ModelData:
    problem: Problem
    cycle: Cycle
    catalog: Catalog
    defaults: dict
    cells: tuple[CellSpec, ...]
    motors: tuple[MotorSpec, ...]
    bodies: tuple[BodySpec, ...]
    # per cell (kept cells)
    cell_energy_wh: np.ndarray
    cell_vmin_v: np.ndarray
    cell_vmax_v: np.ndarray
    cell_r_ohm: np.ndarray
    cell_pack_mass_kg: np.ndarray      # pack mass per cell: cell mass / cell_to_pack_mass_ratio
    cell_pack_volume_l: np.ndarray     # pack volume per cell: cell volume / cell_to_pack_volume_ratio
    cell_landed_usd: np.ndarray        # cell cost with duty and credit at the cheapest site (a lower bound; sites.cell_usd is exact)
    cell_integration_usd: np.ndarray   # pack integration per cell (at the assembly site)
    cell_peak_power_w: np.ndarray      # terminal power per cell at its peak (pulse) discharge current
    cell_continuous_power_w: np.ndarray  # terminal power per cell at its continuous discharge current
    cell_charge_power_w: np.ndarray    # terminal power per cell absorbs at its charge current (v i + i^2 r)
    cell_loss_wh_per_w: np.ndarray     # e r / v^2: usable Wh lost per W of the pair's P_eff
    cell_max_parallel: np.ndarray      # most strings in parallel: the model bound derived from volume (inputs/pack_layout.py)
    # per layout (cell, parallel strings, series range)
    layout_cell: np.ndarray
    layout_parallel: np.ndarray
    layout_series_lo: np.ndarray
    layout_series_hi: np.ndarray
    # per motor
    motor_vmin_v: np.ndarray
    motor_vmax_v: np.ndarray
    motor_mass_kg: np.ndarray
    motor_landed_usd: np.ndarray       # at the cheapest site (a lower bound for screening; sites.motor_usd is exact)
    motor_pack_power_w: np.ndarray     # pack terminal power the motor draws at peak, + auxiliaries (peak rate)
    motor_map_scale: np.ndarray
    motor_gear_ratio: np.ndarray
    # per body
    body_mass_kg: np.ndarray
    body_landed_usd: np.ndarray        # glider at the cheapest site (a lower bound for screening; sites.body_usd is exact)
    body_volume_l: np.ndarray
    body_lw_max_kg: np.ndarray
    # per pair (index into motors, bodies)
    pair_motor: np.ndarray
    pair_body: np.ndarray
    pair_mass_lo_kg: np.ndarray        # lightest possible test mass
    pair_mass_hi_kg: np.ndarray        # heaviest test mass allowed (structure, regulation, performance): fit range
    pair_struct_hi_kg: np.ndarray      # heaviest test mass the parts allow (largest pack the body holds)
    pair_perf_max_kg: np.ndarray       # performance mass limit (inf: no performance need)
    pair_perf_limit: np.ndarray        # which need sets it: index into PERF_NAMES, -1 for none
    # continuous needs (top speed, grade at speed): pack terminal power = w0 + w_per_kg x test mass,
    # one row per need the problem has (CONTINUOUS_NAMES order), one column per pair
    continuous_needs: tuple[str, ...]
    continuous_need_w0: np.ndarray
    continuous_need_w_per_kg: np.ndarray
    continuous_need_can_bind: np.ndarray  # (needs, pairs): False where the smallest pack the pair's motor can
                                          # run on already holds the need at the pair's heaviest build
    fit: EnergyFit
    correction: np.ndarray             # multiplies a pair's energy per km until a design of it is simulated (1 = none)
    # lightweighting curve
    lw_width_kg: np.ndarray
    lw_cost_usd_per_kg: np.ndarray
    # scalars
    payload_kg: float
    fixed_mass_kg: float
    fixed_bom_usd: float               # fixed content + assembly at the cheapest site (a lower bound)
    price_per_bom: float               # retail USD per BOM USD
    price_cap_usd: float | None        # None: no cap (explanations)
    min_range_km: float | None
    range_energy_factor: float         # cycle range factor x usable fraction
    usable_fraction: float
    max_test_mass_kg: float | None     # from a gross-mass limit
    max_unladen_excl_battery_kg: float | None
    governed_speed_kmh: float | None
    sites: SiteData | None = None      # the assembly-site decision's cost coefficients (prepare/sites.py)
    content: ContentData | None = None # required lines in force, content options (prepare/content.py)
    option_m_wh_per_km: np.ndarray | None = None  # (energy options,): big-M of each option's Wh/km delta
    # {(pair, cell, cells): factor} measured by simulating that design (design_key): replaces the pair's
    # correction for exactly that pack on that pair (solving/certificate.py)
    design_correction: dict = field(default_factory=dict)
    rejections: list[Rejection] = field(default_factory=list)
    prep_seconds: float = 0.0

    @property
    def n_pairs(self) -> int:
        return len(self.pair_motor)

    @property
    def design_space_size(self) -> int:
        """Discrete combinations (cell, parallel, series, motor, body) of the whole catalog."""
        pack = self.catalog.pack
        layouts = int(np.sum(np.maximum(self.cell_max_parallel - pack.min_parallel + 1, 0)))
        return (layouts * (pack.max_series - pack.min_series + 1) * len(self.catalog.motors) * len(self.catalog.bodies)
                * self.catalog.content.combinations)

    @property
    def screened_space_size(self) -> int:
        """The combinations left in the MILP after screening and bound tightening."""
        series = int(np.sum(self.layout_series_hi - self.layout_series_lo + 1))
        return series * self.n_pairs * self.catalog.content.combinations

    def continuous_need_w(self, pair: int, test_mass_kg: float) -> np.ndarray:
        """Pack terminal power each continuous need draws from the pair at this test mass (W)."""
        return self.continuous_need_w0[:, pair] + self.continuous_need_w_per_kg[:, pair] * test_mass_kg

    def design_key(self, pair: int, layout: int, series: int) -> tuple[int, int, int]:
        """(pair, cell, cells): what the simulation of a pack on a pair depends on. Packs of as many cells
        of one type in another arrangement draw the same power per cell, lose the same share to
        resistance (P r / (N v^2)) and absorb the same charge power, so they simulate alike."""
        return (pair, int(self.layout_cell[layout]), int(self.layout_parallel[layout]) * int(series))

    def energy_factor(self, pair: int, layout: int | None = None, series: int | None = None) -> float:
        """The factor on the pair's fitted energy per km: the design's own once simulated, else the pair's."""
        own = None if layout is None else self.design_correction.get(self.design_key(pair, layout, series))
        return float(self.correction[pair] if own is None else max(own, self.correction[pair]))

    def option_wh_per_km(self, pair: int, test_mass_kg: float, options: tuple[int, ...] = ()) -> float:
        """What the chosen content options (indices into content.options) add to the pair's energy per km
        (those without an energy effect add 0); the MILP adds the same deltas, unfactored (milp/content.py)."""
        if self.content is None or self.fit.option_intercept_wh_per_km is None:
            return 0.0
        return float(sum(self.fit.option_wh_per_km(pair, k, test_mass_kg)
                         for k, o in enumerate(self.content.energy_options) if o in options))

    def charge_loss_wh_per_km(self, pair: int, test_mass_kg: float, layout: int, series: int) -> float:
        """What the pack's charge acceptance adds to the pair's energy per km (prepare/charge_limit.py)."""
        cells = int(self.layout_parallel[layout]) * int(series)
        return self.fit.charge_loss_wh_per_km(pair, test_mass_kg, cells * float(self.cell_charge_power_w[self.layout_cell[layout]]))

    def wh_per_km(self, pair: int, test_mass_kg: float, layout: int, series: int, options: tuple[int, ...] = (),
                  factor: float | None = None) -> float:
        """The linear model's energy per km, before pack losses: the pair's fit times its factor (the
        design's own, or `factor`), plus the options' deltas and the charge-limit loss (unfactored, as in
        the MILP)."""
        f = self.energy_factor(pair, layout, series) if factor is None else factor
        return f * self.fit.wh_per_km(pair, test_mass_kg) + self.unfactored_wh_per_km(pair, test_mass_kg, layout, series,
                                                                                     options)

    def unfactored_wh_per_km(self, pair: int, test_mass_kg: float, layout: int, series: int,
                             options: tuple[int, ...] = ()) -> float:
        """The part of the energy per km no correction factor scales: options' deltas, charge-limit loss."""
        return self.option_wh_per_km(pair, test_mass_kg, options) + self.charge_loss_wh_per_km(pair, test_mass_kg,
                                                                                                layout, series)


# Fit rows are cached per pair under everything they depend on (catalog, cycle, payload, limits,
# performance, the model defaults, the fit settings): top-K, corrections, explanations and re-solves
# at another price reuse them within a run, and only pairs not seen yet go into the (one, vectorized)
# energy-model call. A change of any of these is a different key, never a stale fit.
_FIT_CACHE: dict = {}


def clear_fit_cache() -> None:
    _FIT_CACHE.clear()


def _cached_fit(catalog, problem, cycle, defaults, settings, motors, bodies, pm, pb, lo, hi, phys, content: ContentData,
                tyre_crr) -> EnergyFit:
    # The content (in the catalog), the model year and the climate change the mass range and the
    # option variants: they are part of the key.
    key = (catalog, problem.cycle, problem.payload_kg, problem.limits, problem.performance,
           problem.price.fixed_content_mass_kg, problem.model_year, problem.climate, settings.fit_mass_points,
           settings.accel_speed_points, settings.accel_bisection_steps, settings.charge_limit_min_w_per_kg,
           settings.charge_limit_max_w_per_kg, settings.charge_limit_points,
           json.dumps(defaults, sort_keys=True, default=str))
    levels = charge_levels_w_per_kg(settings.charge_limit_min_w_per_kg, settings.charge_limit_max_w_per_kg,
                                    settings.charge_limit_points)
    opts = tuple((content.options[i].drag_area_scale, content.options[i].crr_scale, float(content.option_aux_w[i]))
                 for i in content.energy_options)
    n_opt = len(opts)
    rows = _FIT_CACHE.setdefault(key, {})
    ids = [(motors[m].id, bodies[b].id) for m, b in zip(pm, pb)]
    missing = np.array([i for i, k in enumerate(ids) if k not in rows], dtype=int)
    seconds, variants = 0.0, 0
    if len(missing):
        sub = PairPhysics(**{f: getattr(phys, f)[missing] for f in phys.__dataclass_fields__})
        new = fit_energy(sub, lo[missing], hi[missing], cycle, defaults, top_speed_kmh=problem.limits.max_top_speed_kmh,
                         mass_points=settings.fit_mass_points, options=opts, tyre_crr=np.asarray(tyre_crr)[missing])
        t = time.perf_counter()
        charge = fit_charge_limit(sub, lo[missing], hi[missing], cycle, defaults, levels,
                                  top_speed_kmh=problem.limits.max_top_speed_kmh)
        seconds, variants = new.seconds + time.perf_counter() - t, new.variants + charge.variants
        for j, i in enumerate(missing):
            rows[ids[i]] = (tuple(float(getattr(new, f)[j]) for f in FIT_ROW)
                            + tuple(map(float, new.option_intercept_wh_per_km[j]))
                            + tuple(map(float, new.option_slope_wh_per_km_per_kg[j]))
                            + tuple(map(float, charge.a_wh_per_km_per_kg[j]))
                            + tuple(map(float, charge.b_wh_per_km_per_w[j]))
                            + tuple(map(float, charge.c_wh_per_km[j])))
    n_planes = len(levels) - 1
    table = np.array([rows[k] for k in ids], dtype=float).reshape(len(ids), len(FIT_ROW) + 2 * n_opt + 3 * n_planes)
    cols = np.cumsum([len(FIT_ROW), n_opt, n_opt, n_planes, n_planes])
    return EnergyFit(**{f: table[:, i] for i, f in enumerate(FIT_ROW)}, variants=variants, seconds=seconds,
                     option_intercept_wh_per_km=table[:, cols[0]:cols[1]],
                     option_slope_wh_per_km_per_kg=table[:, cols[1]:cols[2]],
                     charge_a_wh_per_km_per_kg=table[:, cols[2]:cols[3]], charge_b_wh_per_km_per_w=table[:, cols[3]:cols[4]],
                     charge_c_wh_per_km=table[:, cols[4]:])


def _zero_fit(lo, hi, n_opt: int = 0) -> EnergyFit:
    zero = np.zeros(len(lo))
    return EnergyFit(zero, zero, zero, zero, np.asarray(lo, float), np.asarray(hi, float), 0, 0.0,
                     np.zeros((len(lo), n_opt)), np.zeros((len(lo), n_opt)))


FIT_ROW = ("intercept_wh_per_km", "slope_wh_per_km_per_kg", "loss_power_w", "max_rel_error", "mass_lo_kg", "mass_hi_kg")


def prepare(catalog: Catalog, problem: Problem, cycle: Cycle, defaults: dict, settings: SolverSettings, *,
            price_cap_usd: float | None = None, min_range_km: float | None = None,
            price_screen: bool = True, energy: bool = True) -> ModelData:
    """Screen, bound, fit. `price_cap_usd`/`min_range_km` default to the problem's; pass
    math.inf / 0 to drop them (explanations). `energy=False` skips the energy fits (all zero) for
    questions about price alone. Raises InfeasibleError when the screens leave nothing."""
    start = time.perf_counter()
    cap = problem.price_cap_usd if price_cap_usd is None else price_cap_usd
    cap = None if cap is None or math.isinf(cap) else cap
    min_range = problem.min_range_km if min_range_km is None else (min_range_km or None)
    limits, price, pack = problem.limits, problem.price, catalog.pack

    bodies, body_rej = screen_bodies(catalog.bodies, limits)
    if not bodies:
        raise explain_empty("bodies", body_rej, len(catalog.bodies))
    motors, motor_rej = screen_motors(catalog.motors, limits)
    if not motors:
        raise explain_empty("motors", motor_rej, len(catalog.motors))
    cells = list(catalog.cells)
    mult = price.price_per_bom_usd
    d = defaults
    content = prepare_content(catalog.content, problem)
    opt_mass_lo, opt_mass_hi = option_mass_range_kg(content)
    opt_cost_lo, opt_cost_hi = option_cost_range_usd(content)

    # ---- cells -------------------------------------------------------------------------------
    e = np.array([c.energy_wh for c in cells])
    q = np.array([c.capacity_ah for c in cells])
    v = np.array([c.nominal_voltage_v for c in cells])
    r = np.array([c.internal_resistance_mohm for c in cells]) / 1000.0
    cell_power = _cell_terminal_power_w(q, v, r, np.array([c.peak_discharge_c for c in cells]))
    cell_cont_power = _cell_terminal_power_w(q, v, r, np.array([c.max_discharge_c for c in cells]))
    # What the energy model's charge limit absorbs per cell (the pack's is N times it).
    cell_charge_power = charge_power_limit_w(v, r, q * np.array([c.max_charge_c for c in cells]))
    cell_integration = pack.cost_usd_per_kwh * e / 1000.0   # at the assembly site: no duty of its own
    cell_pack_mass = np.array([c.mass_kg for c in cells]) / pack.cell_to_pack_mass_ratio
    cell_pack_volume = np.array([c.volume_l for c in cells]) / pack.cell_to_pack_volume_ratio
    cell_vmin = np.array([c.min_voltage_v for c in cells])
    cell_vmax = np.array([c.max_voltage_v for c in cells])
    cell_max_par = np.array([lim.max_parallel for lim in parallel_limits(catalog)], dtype=int)

    # ---- motors and bodies -------------------------------------------------------------------
    map_values = np.asarray(d["motor"]["efficiency_values"], dtype=float)
    aux_w = d["auxiliary"]["power_w"]
    scale = np.array([m.peak_efficiency for m in motors]) / map_values.max()
    peak_w = np.array([m.peak_power_kw for m in motors]) * 1000.0
    cont_w = np.array([m.continuous_power_kw for m in motors]) * 1000.0
    torque = np.array([m.peak_torque_nm for m in motors])
    rpm = np.array([m.max_speed_rpm for m in motors])
    gear = np.array([m.gear_ratio or d["driveline"]["gear_ratio"] for m in motors])
    motor_need = peak_w / (map_values[-1] * scale) + aux_w
    motor_vmin = np.array([m.min_voltage_v for m in motors])
    motor_vmax = np.array([m.max_voltage_v for m in motors])
    motor_mass = np.array([m.mass_kg for m in motors])
    body_mass = np.array([b.glider_mass_kg for b in bodies])
    body_volume = np.array([b.battery_volume_l for b in bodies])
    lw_end = catalog.lightweighting[-1].up_to_kg if catalog.lightweighting else 0.0
    body_lw = np.minimum(np.array([b.lightweighting_max_kg for b in bodies]), lw_end)
    # The site decides glider cost, duties and credits; screening uses the cheapest site per part (a
    # lower bound on any site's cost, so no pair is screened out that some site could build).
    lw_cost_max = float(sum(s.cost_usd_per_kg * w for s, w in zip(
        catalog.lightweighting, np.diff(np.concatenate([[0.0], [s.up_to_kg for s in catalog.lightweighting]])))))
    most_cells = np.minimum(np.floor(body_volume.max(initial=0.0) / cell_pack_volume), cell_max_par * pack.max_series)
    sites = prepare_sites(price, bodies, motors, cells, cell_integration, lw_cost_max, most_cells,
                          content_usd=content.required_cost_usd, option_cost_range_usd=(opt_cost_lo, opt_cost_hi))
    body_landed = sites.body_usd.min(axis=0)
    motor_landed = sites.motor_usd.min(axis=0)
    fixed_bom = float(sites.fixed_usd.min())
    cell_bom = sites.cell_usd.min(axis=0)
    cell_landed = cell_bom - cell_integration

    # ---- smallest pack each motor can run on, largest pack each body holds --------------------
    par = np.arange(pack.min_parallel, max(int(cell_max_par.max(initial=0)), pack.min_parallel) + 1)
    n_volt_lo = np.maximum(pack.min_series, np.ceil(motor_vmin[None, :] / cell_vmin[:, None] - 1e-9))   # C x M
    n_volt_hi = np.minimum(pack.max_series, np.floor(motor_vmax[None, :] / cell_vmax[:, None] + 1e-9))
    cells_min = _fewest_cells(pack.min_parallel, cell_max_par, n_volt_lo, n_volt_hi, motor_need, cell_power)  # C x M
    with np.errstate(invalid="ignore"):
        min_pack_mass = (cells_min * cell_pack_mass[:, None]).min(axis=0)                       # M
        min_pack_bom = (cells_min * cell_bom[:, None]).min(axis=0)
        min_pack_volume = (cells_min * cell_pack_volume[:, None]).min(axis=0)
    max_cells = np.minimum(np.floor(body_volume[None, :] / cell_pack_volume[:, None]),
                           cell_max_par[:, None] * pack.max_series)                              # C x B
    max_pack_mass = (max_cells * cell_pack_mass[:, None]).max(axis=0)                            # B

    # ---- pairs -------------------------------------------------------------------------------
    pm, pb = (a.ravel() for a in np.meshgrid(np.arange(len(motors)), np.arange(len(bodies)), indexing="ij"))
    fixed_mass = price.fixed_content_mass_kg + content.required_mass_kg   # the required lines the glider lacks
    base = body_mass[pb] + motor_mass[pm] + fixed_mass + problem.payload_kg
    lo = base - body_lw[pb] + min_pack_mass[pm] + opt_mass_lo
    struct_hi = base + max_pack_mass[pb] + opt_mass_hi
    hi = struct_hi
    max_test_mass = None
    if limits.max_gross_mass_kg is not None:
        max_test_mass = limits.max_gross_mass_kg - limits.gross_load_kg + problem.payload_kg
        hi = np.minimum(hi, max_test_mass)
    reasons = {}
    reasons["no pack fits the motor's voltage window and power need (within the catalog's pack-layout limits of "
            "strings in parallel: model bounds, kei catalog)"] = ~np.isfinite(min_pack_mass[pm])
    reasons["the smallest pack the motor can run on does not fit the body"] = min_pack_volume[pm] > body_volume[pb]
    if limits.max_unladen_mass_excl_battery_kg is not None:
        unladen = body_mass[pb] - body_lw[pb] + motor_mass[pm] + fixed_mass + opt_mass_lo
        reasons["unladen mass without battery above the limit"] = unladen > limits.max_unladen_mass_excl_battery_kg
    if max_test_mass is not None:
        reasons["too heavy for the gross-mass limit"] = lo > max_test_mass

    road = Road.from_defaults(d)
    # The bodies' Cd A and Crr as a coastdown sees them (the energy model's road-load convention).
    body_cda, body_crr = road_load_from_body(np.array([b.drag_area_m2 for b in bodies])[pb],
                                             np.array([b.rolling_resistance_coefficient for b in bodies])[pb],
                                             d["road_load"])
    structural = ~np.any(np.array(list(reasons.values())), axis=0)
    priced = structural.copy()
    if price_screen and cap is not None:
        min_price = mult * (fixed_bom + body_landed[pb] + motor_landed[pm] + min_pack_bom[pm] + min(opt_cost_lo, 0.0))
        priced &= min_price <= cap * (1 + 1e-9)
    # Performance limits cost the most: evaluate them only where nothing cheaper has ruled the pair out.
    alive = np.flatnonzero(priced)
    perf_max = np.full(len(pm), np.inf)
    perf_which = np.full(len(pm), -1)
    if len(alive):
        perf = _performance_limits(problem, cycle, road, settings, lo[alive], np.maximum(hi, lo)[alive],
                                   peak_w[pm[alive]], cont_w[pm[alive]], torque[pm[alive]], rpm[pm[alive]],
                                   gear[pm[alive]], body_cda[alive], body_crr[alive])
        perf_max[alive] = perf.min(axis=0)
        perf_which[alive] = np.where(np.isfinite(perf_max[alive]), perf.argmin(axis=0), -1)
    reasons["cannot meet the performance needs even at its lightest"] = perf_max < lo
    feasible = priced & (perf_max >= lo)
    if not (structural & ~priced).any() and not feasible.any():
        raise _explain_pairs(reasons, problem, cycle, motors, bodies, pm, pb, lo, road, settings, peak_w, cont_w, torque,
                             rpm, gear, body_cda, body_crr)
    keep = np.flatnonzero(feasible)
    pm, pb, lo, struct_hi = pm[keep], pb[keep], lo[keep], struct_hi[keep]
    hi = np.minimum(hi[keep], perf_max[keep])
    perf_max, perf_which = perf_max[keep], perf_which[keep]
    body_cda, body_crr = body_cda[keep], body_crr[keep]
    cont_names, cont_w0, cont_w_per_kg = _continuous_needs(problem.performance, road, d["motor"], aux_w, scale[pm],
                                                           peak_w[pm], body_cda, body_crr, lo, np.maximum(hi, lo))

    # ---- energy fits (cached per pair) ---------------------------------------------------------
    tyre_crr = np.array([b.rolling_resistance_coefficient for b in bodies])[pb]
    fit = _zero_fit(lo, hi, len(content.energy_options)) if not energy else _cached_fit(
        catalog, problem, cycle, d, settings, motors, bodies, pm, pb, lo, hi,
        PairPhysics(drag_area_m2=body_cda, rolling_resistance_coefficient=body_crr, peak_power_w=peak_w[pm],
                    peak_torque_nm=torque[pm], max_speed_rpm=rpm[pm], gear_ratio=gear[pm], map_scale=scale[pm]),
        content, tyre_crr)

    pack_budget = np.inf  # the most any pack may cost: the cap less the cheapest motor x body and fixed content
    if cap is not None and len(pm):
        # The heaviest pack a pair can afford bounds its test mass (a valid, tighter bound for the MILP;
        # the fit keeps the price-independent range so it can be cached across price caps).
        pair_budget = cap / mult - fixed_bom - body_landed[pb] - motor_landed[pm] - min(opt_cost_lo, 0.0)
        kg_per_usd = float(np.max(cell_pack_mass / cell_bom))
        struct_hi = np.minimum(struct_hi, base[keep] + np.maximum(pair_budget, 0.0) * kg_per_usd + opt_mass_hi)
        pack_budget = float(pair_budget.max())
    # Every pair needs at least this much continuous power: its needs at its lightest build.
    cont_need_lo = (cont_w0 + cont_w_per_kg * lo).max(axis=0, initial=0.0)
    layout_arr = _layouts(pack, par, cell_max_par, cell_vmin, cell_vmax, cell_power, cell_cont_power, cell_pack_volume, cell_bom,
                          pack_budget, motor_vmin[pm], motor_vmax[pm], motor_need[pm], cont_need_lo, body_volume[pb])
    # Every pack a motor can run on (voltage window, peak power) has at least cells_min[c, m] cells of
    # cell c; where that many already hold a need at the pair's heaviest build, its row is redundant.
    with np.errstate(invalid="ignore"):
        cont_floor_w = np.nan_to_num((cells_min * cell_cont_power[:, None]).min(axis=0), nan=np.inf)   # M
    cont_can_bind = cont_w0 + cont_w_per_kg * struct_hi > cont_floor_w[pm] * (1 - 1e-9)

    segs = catalog.lightweighting
    ends = np.array([s.up_to_kg for s in segs])
    widths = np.diff(np.concatenate([[0.0], ends])) if len(segs) else np.zeros(0)
    usable = d["battery"]["usable_fraction"]
    # Big-M of each energy option's delta: its largest magnitude over every pair's mass range.
    opt_a, opt_b = fit.option_intercept_wh_per_km, fit.option_slope_wh_per_km_per_kg
    option_m = np.zeros(len(content.energy_options))
    if len(pm) and len(option_m):
        ends = np.stack([opt_a + opt_b * lo[:, None], opt_a + opt_b * struct_hi[:, None]])
        option_m = np.abs(ends).max(axis=(0, 1)) * (1 + 1e-6) + 1e-9
    return ModelData(
        problem=problem, cycle=cycle, catalog=catalog, defaults=d, cells=tuple(cells), motors=tuple(motors),
        bodies=tuple(bodies), cell_energy_wh=e, cell_vmin_v=cell_vmin, cell_vmax_v=cell_vmax, cell_r_ohm=r,
        cell_pack_mass_kg=cell_pack_mass, cell_pack_volume_l=cell_pack_volume, cell_landed_usd=cell_landed,
        cell_integration_usd=cell_integration, cell_peak_power_w=cell_power, cell_continuous_power_w=cell_cont_power,
        cell_charge_power_w=cell_charge_power,
        cell_loss_wh_per_w=e * r / v**2, cell_max_parallel=cell_max_par,
        layout_cell=layout_arr[:, 0], layout_parallel=layout_arr[:, 1], layout_series_lo=layout_arr[:, 2],
        layout_series_hi=layout_arr[:, 3], motor_vmin_v=motor_vmin, motor_vmax_v=motor_vmax, motor_mass_kg=motor_mass,
        motor_landed_usd=motor_landed, motor_pack_power_w=motor_need, motor_map_scale=scale, motor_gear_ratio=gear,
        body_mass_kg=body_mass, body_landed_usd=body_landed, body_volume_l=body_volume, body_lw_max_kg=body_lw,
        pair_motor=pm, pair_body=pb, pair_mass_lo_kg=lo, pair_mass_hi_kg=hi, pair_struct_hi_kg=struct_hi, pair_perf_max_kg=perf_max,
        pair_perf_limit=perf_which, continuous_needs=cont_names, continuous_need_w0=cont_w0,
        continuous_need_w_per_kg=cont_w_per_kg, continuous_need_can_bind=cont_can_bind, fit=fit, correction=np.ones(len(pm)), lw_width_kg=widths,
        lw_cost_usd_per_kg=np.array([s.cost_usd_per_kg for s in segs]), payload_kg=problem.payload_kg,
        fixed_mass_kg=fixed_mass, fixed_bom_usd=fixed_bom,
        price_per_bom=mult, price_cap_usd=cap, min_range_km=min_range,
        range_energy_factor=cycle.range_factor * usable, usable_fraction=usable, max_test_mass_kg=max_test_mass,
        max_unladen_excl_battery_kg=limits.max_unladen_mass_excl_battery_kg,
        governed_speed_kmh=limits.max_top_speed_kmh, sites=sites, content=content, option_m_wh_per_km=option_m,
        rejections=body_rej + motor_rej,
        prep_seconds=time.perf_counter() - start)


def _fewest_cells(min_parallel, cell_max_par, n_lo, n_hi, need, cell_power) -> np.ndarray:
    """C x M: the fewest cells of cell c in a pack motor m can run on (its voltage window n_lo..n_hi in
    series, its peak draw at the cells' pulse rate), inf where none. Parallel counts are tried only as
    far as they can lower the count: from p >= need / (cell power x n_lo) on, n_lo in series carry the
    power and every further string only adds cells."""
    out = np.full(n_lo.shape, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_top = np.ceil(need[None, :] / (cell_power[:, None] * n_lo) - 1e-9) + 1
        p_top = np.nan_to_num(np.minimum(p_top, cell_max_par[:, None]), nan=0.0, posinf=0.0)
        for p in range(min_parallel, max(int(p_top.max(initial=0)), min_parallel) + 1):
            n = np.maximum(n_lo, np.ceil(need[None, :] / (cell_power[:, None] * p) - 1e-9))
            ok = (n <= n_hi) & (p <= cell_max_par[:, None])
            out = np.where(ok, np.minimum(out, p * n), out)
    return out


def _layouts(pack, par, cell_max_par, cell_vmin, cell_vmax, cell_power, cell_cont_power, cell_pack_volume, cell_bom,
             pack_budget, vmin, vmax, need, cont_need, volume) -> np.ndarray:
    """Rows (cell, parallel, series lo, series hi): the series counts some kept motor's window, peak
    and continuous power needs, the largest kept body and the pack budget admit, for the parallel
    counts up to each cell's model bound (`cell_max_par`, derived from volume); empty ranges are left
    out. Every pair needs both powers, so the larger of the two smallest needs is a valid bound.
    Computed for all cells x parallel counts at once (rows in cell, then parallel order)."""
    if not len(vmin):
        return np.zeros((0, 4), dtype=int)
    per_cell = par[None, :].astype(float)                                                   # 1 x P
    with np.errstate(divide="ignore", invalid="ignore"):
        s_lo_v = np.maximum(pack.min_series, np.ceil(vmin[None, :] / cell_vmin[:, None] - 1e-9).min(axis=1))   # C
        s_hi_v = np.minimum(pack.max_series, np.floor(vmax[None, :] / cell_vmax[:, None] + 1e-9).max(axis=1))
        s_lo = np.maximum(np.maximum(s_lo_v[:, None], np.ceil(need.min() / (cell_power[:, None] * per_cell) - 1e-9)),
                          np.ceil(cont_need.min() / (cell_cont_power[:, None] * per_cell) - 1e-9))       # C x P
        s_hi = np.minimum(np.minimum(s_hi_v[:, None], np.floor(volume.max() / (cell_pack_volume[:, None] * per_cell) + 1e-9)),
                          np.minimum(np.floor(pack_budget / (cell_bom[:, None] * per_cell) + 1e-9), pack.max_series))
        ci, pi = np.nonzero((s_lo <= s_hi) & (par[None, :] <= cell_max_par[:, None]))
    return np.column_stack([ci, par[pi], s_lo[ci, pi], s_hi[ci, pi]]).astype(int).reshape(-1, 4)


def _cell_terminal_power_w(capacity_ah, voltage_v, resistance_ohm, c_rate):
    """Terminal power per cell at `c_rate` (V I - I^2 R); above V / 2R more current only loses power."""
    with np.errstate(divide="ignore"):
        c_rate = np.minimum(c_rate, np.where(resistance_ohm > 0, voltage_v / (
            2.0 * np.where(resistance_ohm > 0, resistance_ohm, 1.0) * capacity_ah), np.inf))
    current = capacity_ah * c_rate
    return current * voltage_v - current**2 * resistance_ohm


def _continuous_needs(perf, road, motor_map, aux_w, map_scale, peak_w, cda, crr, lo, hi):
    """The pack terminal power each continuous need (top speed, grade at speed) draws, as
    w0 + w_per_kg x test mass per pair: rows CONTINUOUS_NAMES the problem asks for, columns pairs.

    Wheel power is linear in mass (road load at a constant speed); shaft = wheel / eta_d; electrical =
    shaft / eta_m + aux. eta_m is taken as the lowest the motor map has between the shaft powers at the
    pair's lightest and heaviest test mass: the draw is never understated (by at most the map's spread
    over that range, ~1-2 %), and stays linear in mass so the MILP carries it exactly."""
    fr = np.asarray(motor_map["efficiency_power_fractions"], dtype=float)
    ef = np.asarray(motor_map["efficiency_values"], dtype=float)
    names, w0, w_per_kg = [], [], []
    for name, speed, grade in (("top_speed", perf.min_top_speed_kmh, 0.0),
                               ("grade", perf.grade_speed_kmh, perf.grade_percent)):
        if speed is None or grade is None:
            continue
        aero_w, per_kg_w = steady_speed_wheel_power_w(speed, grade, cda, crr, road)
        f_lo = np.clip((aero_w + per_kg_w * lo) / road.driveline_efficiency / peak_w, 0.0, 1.0)
        f_hi = np.clip((aero_w + per_kg_w * hi) / road.driveline_efficiency / peak_w, f_lo, 1.0)
        inside = (fr > f_lo[:, None]) & (fr < f_hi[:, None])
        eta = map_scale * np.minimum(np.minimum(np.interp(f_lo, fr, ef), np.interp(f_hi, fr, ef)),
                                     np.where(inside, ef, np.inf).min(axis=1))
        names.append(name)
        w0.append(aero_w / (road.driveline_efficiency * eta) + aux_w)
        w_per_kg.append(per_kg_w / (road.driveline_efficiency * eta))
    shape = (len(names), len(lo))
    return tuple(names), np.array(w0, dtype=float).reshape(shape), np.array(w_per_kg, dtype=float).reshape(shape)


def _performance_limits(problem, cycle, road, settings, lo, hi, peak_w, cont_w, torque, rpm, gear, cda, crr):
    """Rows in PERF_NAMES order (inf where the problem does not ask for it). The closed-form limits
    go first; the cycle and the 0-100 km/h integral only run for pairs those leave standing."""
    perf = problem.performance
    rows = np.full((len(PERF_NAMES), len(lo)), np.inf)
    if perf.min_top_speed_kmh is not None:
        rows[1] = steady_speed_mass_limit(perf.min_top_speed_kmh, 0.0, cont_w, cda, crr, rpm, gear, road)
    if perf.grade_percent is not None:
        rows[2] = steady_speed_mass_limit(perf.grade_speed_kmh, perf.grade_percent, cont_w, cda, crr, rpm, gear, road)
    ok = np.flatnonzero(rows.min(axis=0) >= lo)
    if perf.follow_cycle and len(ok):
        rows[3, ok] = cycle_mass_limit(cycle, peak_w[ok], torque[ok], rpm[ok], cda[ok], crr[ok], gear[ok], road,
                                       problem.limits.max_top_speed_kmh)
        ok = ok[rows[3, ok] >= lo[ok]]
    if perf.max_accel_0_100_s is not None and len(ok):
        rows[0, ok] = accel_mass_limit(perf.max_accel_0_100_s, lo[ok], hi[ok], peak_w[ok], torque[ok], rpm[ok], cda[ok],
                                       crr[ok], gear[ok], road, speed_points=settings.accel_speed_points,
                                       bisection_steps=settings.accel_bisection_steps)
    return rows


def _explain_pairs(reasons, problem, problem_cycle, motors, bodies, pm, pb, lo, road, settings, peak_w, cont_w, torque, rpm,
                   gear, cda, crr) -> InfeasibleError:
    """No motor x body pair is possible: name the requirement and how close the best pair comes."""
    perf = problem.performance
    name = lambda i: f"motor {motors[pm[i]].id} in body {bodies[pb[i]].id}"  # noqa: E731
    lines = []
    details = {"stage": "screen_pairs", "pairs": int(len(pm))}
    # Each pair counts once, under the first requirement it fails (the later ones follow from it).
    first = np.full(len(pm), -1)
    for i, mask in enumerate(reasons.values()):
        first = np.where((first < 0) & mask, i, first)
    for i, text in enumerate(reasons):
        count = int(np.sum(first == i))
        if count:
            lines.append(f"{'every pair' if count == len(pm) else f'{count} of {len(pm)} pairs'}: {text}")
            details[f"pairs_failing: {text}"] = count
    if perf.max_accel_0_100_s is not None:
        t = accel_time_s(lo, 100.0, peak_w[pm], torque[pm], cda, crr, gear[pm], road, settings.accel_speed_points)
        reach = vehicle_speed_limit_mps(rpm[pm], gear[pm], road) >= 100.0 / 3.6
        t = np.where(reach, t, np.inf)
        best = int(np.argmin(t))
        details["best_accel_0_100_s"] = float(t[best])
        if t[best] > perf.max_accel_0_100_s:
            lines.append(f"0-100 km/h in {perf.max_accel_0_100_s:g} s: the quickest pair at its lightest build "
                         f"takes {t[best]:.1f} s ({name(best)})")
    for key, speed, grade in (("min_top_speed_kmh", perf.min_top_speed_kmh, 0.0),
                              ("grade_percent", perf.grade_speed_kmh, perf.grade_percent or 0.0)):
        if speed is None:
            continue
        v = speed / 3.6
        theta = math.atan(grade / 100.0)
        need_w = (0.5 * road.air_density_kg_m3 * cda * v**3
                  + lo * road.gravity_m_s2 * (math.sin(theta) + crr * math.cos(theta)) * v) / road.driveline_efficiency
        short = need_w - cont_w[pm]
        reach = vehicle_speed_limit_mps(rpm[pm], gear[pm], road) >= v
        short = np.where(reach, short, np.inf)
        best = int(np.argmin(short))
        if short[best] > 0:
            what = f"holding {speed:g} km/h" + (f" on {grade:g} %" if grade else "")
            if np.isinf(short[best]):
                lines.append(f"{what}: no motor turns fast enough")
            else:
                lines.append(f"{what} needs {need_w[best] / 1000:.1f} kW continuous at the lightest build; the "
                             f"closest pair ({name(best)}) has {cont_w[pm][best] / 1000:.1f} kW")
            details[f"{key}_shortfall_kw"] = float(short[best] / 1000.0)
    if perf.follow_cycle:
        limit = cycle_mass_limit(problem_cycle, peak_w[pm], torque[pm], rpm[pm], cda, crr, gear[pm], road,
                                 problem.limits.max_top_speed_kmh)
        v_max_kmh = problem_cycle.max_speed_kmh if not problem_cycle.is_composite else max(
            p.max_speed_kmh for p, _ in problem_cycle.parts)
        cap = problem.limits.max_top_speed_kmh
        if cap is not None and cap < v_max_kmh:
            lines.append(f"following {problem_cycle.name} needs {v_max_kmh:.0f} km/h, above the "
                         f"{problem.limits.profile} speed cap of {cap:g} km/h")
        elif not np.isfinite(limit).any():
            v_motor = vehicle_speed_limit_mps(rpm[pm], gear[pm], road).max() * 3.6
            lines.append(f"following {problem_cycle.name} needs {v_max_kmh:.0f} km/h; the fastest motor reaches "
                         f"{v_motor:.0f} km/h at its speed limit")
        elif (limit < lo).all():
            best = int(np.argmax(limit - lo))
            lines.append(f"following {problem_cycle.name}: the most capable pair ({name(best)}) keeps up only up to "
                         f"{limit[best]:.0f} kg test mass, its lightest build is {lo[best]:.0f} kg")

    return InfeasibleError("no motor x body pair can meet the requirements: " + "; ".join(lines), details)


def check_catalog(catalog: Catalog) -> None:
    """What the MILP needs of a catalog beyond what the loader checks."""
    segs = catalog.lightweighting
    for i in range(1, len(segs)):
        if segs[i].cost_usd_per_kg < segs[i - 1].cost_usd_per_kg or segs[i].up_to_kg <= segs[i - 1].up_to_kg:
            raise ConfigError(catalog.source or "<catalog>", f"lightweighting[{i}]",
                              "the cost curve must rise (convex) and its segments must follow each other")
