"""Hypothesis strategies: small, plausible random catalogs and problems for the brute-force oracle.

Parts are drawn around real small-EV figures (cells by chemistry, drive units by power, kei-to-B
bodies) so that every constraint of the model is sometimes binding and sometimes slack; design
spaces stay in the thousands so exhaustive enumeration is instant.
"""
from __future__ import annotations

from dataclasses import replace

from hypothesis import strategies as st

from kei.optimizer.inputs.content import Content, ContentOption, RequiredLine
from kei.optimizer.inputs.parts import BodySpec, Catalog, CellSpec, LightweightingSegment, MotorSpec, PackIntegration
from kei.optimizer.inputs.problem import problem_from_dict

ORIGINS = ("CN", "JP", "KR", "US", "EU", "MX")
CHEMISTRY = {  # nominal, min, max voltage; Wh/kg; Wh/L
    "lfp": (3.2, 2.5, 3.65, (150, 180), (300, 380)),
    "nmc": (3.65, 2.9, 4.2, (200, 260), (400, 550)),
    "sodium_ion": (3.1, 2.0, 3.9, (130, 170), (260, 350)),
}


def _u(lo, hi, mid=None):
    """A float in [lo, hi] that shrinks towards `mid` (default: the middle), a plausible value, rather
    than towards an extreme: the simplest examples hypothesis tries are then typical cars."""
    mid = (lo + hi) / 2 if mid is None else mid
    return st.floats(lo - mid, hi - mid, allow_nan=False, allow_infinity=False).map(lambda x: mid + x)


def _i(lo, hi, mid):
    return st.integers(lo - mid, hi - mid).map(lambda x: mid + x)


@st.composite
def cells(draw, i: int, ah: tuple = (20, 200)) -> CellSpec:
    chem = draw(st.sampled_from(["nmc", "lfp", "sodium_ion"]))
    v, vmin, vmax, whkg, whl = CHEMISTRY[chem]
    ah = draw(_u(*ah))
    wh = ah * v
    # Pulse rates of EV cells; continuous rates 1-4x lower, so that holding a grade sometimes binds.
    peak_c = draw(_u(2.0, 5.0))
    continuous_c = peak_c / draw(_u(1.0, 6.0))
    return CellSpec(id=f"cell{i}", name=f"cell {i}", chemistry=chem, format="prismatic", capacity_ah=ah,
                    nominal_voltage_v=v, min_voltage_v=vmin, max_voltage_v=vmax,
                    mass_kg=wh / draw(_u(*whkg)), volume_l=wh / draw(_u(*whl)),
                    max_discharge_c=continuous_c, max_charge_c=draw(_u(0.5, 2.0)),
                    internal_resistance_mohm=30.0 / ah * draw(_u(0.5, 2.0)),
                    cost_usd_per_kwh=draw(_u(45, 130)), origin=draw(st.sampled_from(ORIGINS)),
                    peak_discharge_c=peak_c)


@st.composite
def motors(draw, i: int) -> MotorSpec:
    peak = draw(_u(20, 60))
    vmin = draw(_u(150, 280))
    return MotorSpec(id=f"motor{i}", name=f"motor {i}", peak_power_kw=peak,
                     continuous_power_kw=peak * draw(_u(0.4, 0.6)), peak_torque_nm=peak * draw(_u(2.5, 4.5)),
                     max_speed_rpm=draw(_u(9000, 14000)), peak_efficiency=draw(_u(0.90, 0.96)),
                     efficiency_class="PMSM", min_voltage_v=vmin, max_voltage_v=vmin * draw(_u(1.6, 2.4)),
                     mass_kg=20 + 0.85 * peak, cost_usd=(250 + 20 * peak) * draw(_u(0.6, 1.2)),
                     origin=draw(st.sampled_from(ORIGINS)),
                     gear_ratio=draw(st.one_of(st.none(), _u(7.0, 11.0))))


@st.composite
def bodies(draw, i: int) -> BodySpec:
    width, height = draw(_u(1.40, 1.75)), draw(_u(1.45, 1.70))
    glider = draw(_u(450, 1000))
    return BodySpec(id=f"body{i}", name=f"body {i}", material="high_strength_steel", length_m=draw(_u(3.0, 4.1)),
                    width_m=width, height_m=height, glider_mass_kg=glider, drag_coefficient=draw(_u(0.28, 0.38)),
                    frontal_area_m2=0.85 * width * height, rolling_resistance_coefficient=draw(_u(0.008, 0.010)),
                    battery_volume_l=draw(_u(100, 250)), lightweighting_max_kg=draw(_u(0, 80)),
                    us_crash_compliant=draw(st.booleans()), cost_usd=draw(_u(3000, 9000)),
                    origin=draw(st.sampled_from(ORIGINS)))


@st.composite
def contents(draw) -> Content:
    """One required line (`req0`, added or in the glider) and 1-3 option groups of 2-3 options whose
    cost, mass and energy effects are sometimes worth their price and sometimes not."""
    required = (RequiredLine(id="req0", standard="TEST 1", cost_usd=draw(_u(0, 800)), mass_kg=draw(_u(0, 20)),
                             in_glider=draw(st.booleans())),)
    options = []
    for g in range(draw(_i(1, 3, 2))):
        options.append(ContentOption(id=f"g{g}_base", group=f"g{g}", name="baseline", cost_usd=0.0, mass_kg=0.0))
        for k in range(draw(_i(1, 2, 1))):
            options.append(ContentOption(
                id=f"g{g}_o{k}", group=f"g{g}", name=f"option {k}", cost_usd=draw(_u(-50, 500, 100)),
                mass_kg=draw(_u(-3, 15, 2)), drag_area_scale=draw(st.sampled_from([1.0, draw(_u(0.9, 1.05))])),
                crr_scale=draw(st.sampled_from([1.0, draw(_u(0.75, 1.1))])),
                auxiliary_power_w=draw(st.sampled_from([0.0, draw(_u(-100, 400))]))))
    return Content(required=required, options=tuple(options), file="<random content>")


@st.composite
def catalogs(draw, small_cells: bool = False, with_content: bool = False, derived_parallel: bool = False) -> Catalog:
    """`small_cells`: 4-30 Ah cells in 4-12 strings, so that packs can be small and the pack's peak and
    continuous power (rather than its voltage window or the range) set the pack size. `with_content`:
    a random content file (required line req0, option groups)."""
    n_cells, n_motors, n_bodies = (draw(_i(2, 3, 3)) for _ in range(3))
    min_series = draw(_i(30, 60, 45))
    pack = PackIntegration(cost_usd_per_kwh=draw(_u(20, 45)), cell_to_pack_mass_ratio=draw(_u(0.6, 0.75)),
                           cell_to_pack_volume_ratio=draw(_u(0.4, 0.6)), min_series=min_series,
                           max_series=min_series + draw(_i(40, 90, 70)), min_parallel=1,
                           max_parallel=draw(_i(4, 12, 8) if small_cells else _i(1, 4, 2)))
    if derived_parallel and draw(st.booleans()):
        # No cap: each cell's bound derived from volume (inputs/pack_layout.py), as in the bundled catalog.
        pack = replace(pack, max_parallel=None)
    segments, end, cost = [], 0.0, 0.0
    for _ in range(draw(_i(1, 3, 2))):
        end += draw(_u(10, 40))
        cost += draw(_u(1.0, 8.0))
        segments.append(LightweightingSegment(up_to_kg=end, cost_usd_per_kg=cost))
    return Catalog(cells=tuple(draw(cells(i, (4, 30, 10) if small_cells else (20, 200))) for i in range(n_cells)),
                   motors=tuple(draw(motors(i)) for i in range(n_motors)),
                   bodies=tuple(draw(bodies(i)) for i in range(n_bodies)),
                   pack=pack, lightweighting=tuple(segments), source="<random>",
                   content=draw(contents()) if with_content else Content())


@st.composite
def problems(draw, objective: str, with_content: bool = False):
    raw = {"name": "random", "objective": objective, "cycle": draw(st.sampled_from(["wltc_jp", "udds", "epa_combined"])),
           "price_cap_usd": draw(_u(14000, 32000)), "regulation": {"profile": "none"},
           "price": {"model": "us_2025"}, "performance": {}}
    if objective == "min_price" or draw(st.booleans()):
        raw["min_range_km"] = draw(_u(60, 260))
    perf = raw["performance"]
    if draw(st.booleans()):
        perf["max_accel_0_100_s"] = draw(_u(9.0, 20.0))
    if draw(st.booleans()):
        perf["min_top_speed_kmh"] = draw(_u(90, 130))
    if draw(st.booleans()):
        perf["grade_percent"], perf["grade_speed_kmh"] = draw(_u(2.0, 6.0)), draw(_u(50, 90))
    reg = raw["regulation"]
    if draw(st.booleans()):
        reg["max_width_m"] = draw(_u(1.45, 1.75))
    if draw(st.booleans()):
        reg["max_gross_mass_kg"], reg["gross_load_kg"] = draw(_u(1300, 2200)), draw(_u(0, 300))
    if draw(st.booleans()):
        reg["max_unladen_mass_excl_battery_kg"] = draw(_u(700, 1300))
    if with_content and draw(st.booleans()):
        reg["required_content"] = ["req0"]
    return problem_from_dict(raw, file="<random problem>")
