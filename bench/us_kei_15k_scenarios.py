"""The scenario rows of docs/us_kei_15k.md, re-run: the headline problem with one key changed, or its
price model with one rule changed, each solved by `kei.solve` (verified by simulation, certified).

    python3 bench/us_kei_15k_scenarios.py          # 13 solves, about 11 s on 2 cores

Where no design meets the $15,000 cap, the row gives the floor (the cheapest car that meets the rest)
and that car's own range: the same problem solved again with the cap at the floor. Rows whose problem
cannot be met at any price print the solver's explanation. Prints one Markdown table and, as its
last line, the wall time against the first row's (the baseline solve of the same process).
"""
from __future__ import annotations

import dataclasses
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing, like the tests

from kei.errors import InfeasibleError  # noqa: E402
from kei.optimizer.inputs.problem import Problem, problem_from_dict  # noqa: E402
from kei.optimizer.solving.pipeline import solve  # noqa: E402
from kei.schema import read_toml  # noqa: E402

PROBLEM_FILE = ROOT / "configs" / "problems" / "us_kei_15k.toml"


def _problem(**changes: dict) -> Problem:
    """The headline problem file with top-level keys or [table] keys changed (`regulation={...}`)."""
    raw = dict(read_toml(PROBLEM_FILE))
    for key, value in changes.items():
        if isinstance(value, dict):
            raw[key] = {**raw.get(key, {}), **value}
        else:
            raw[key] = value
    return problem_from_dict(raw, file=str(PROBLEM_FILE), base_dir=PROBLEM_FILE.parent)


def _with_sites(problem: Problem, **rates: float) -> Problem:
    """The problem with the vehicle duty rate of the named assembly sites replaced."""
    return _with_price(problem, sites=tuple(dataclasses.replace(s, vehicle_duty_rate=rates[s.name])
                                            if s.name in rates else s for s in problem.price.sites))


def _with_price(problem: Problem, **fields) -> Problem:
    """The problem with fields of its price model replaced."""
    return dataclasses.replace(problem, price=dataclasses.replace(problem.price, **fields))


def _rpe_low(problem: Problem) -> Problem:
    """The retail price equivalent at the low end of the calibration's residual band."""
    price = problem.price
    return _with_price(problem, retail_price_equivalent=price.retail_price_equivalent
                       * (1.0 + price.calibration_residual_low))


def _describe(design) -> str:
    return (f"{design.site}, {design.cell.id} {design.series}s{design.parallel}p "
            f"{design.pack_energy_wh / 1000:.1f} kWh, {design.motor.id}, {design.body.id}")


def _row(problem: Problem) -> str:
    try:
        best = solve(problem).best
        return f"**{best.verified_range_km:.1f} km at ${best.price_usd:,.0f}** ({_describe(best)})"
    except InfeasibleError as err:
        floor_usd = err.details.get("cheapest_price_usd")
        if floor_usd is None:
            return "infeasible: " + err.explanation.splitlines()[0]
    # The floor car's own range: the cheapest design at a cap a cent above its price.
    at_floor = solve(dataclasses.replace(problem, price_cap_usd=math.ceil(floor_usd * 100 + 1) / 100)).best
    return f"floor ${floor_usd:,.0f}, {at_floor.verified_range_km:.1f} km ({_describe(at_floor)})"


SCENARIOS = [
    ("as posed (MY2027, 2025 rules)", lambda: _problem()),
    ("model year 2029 (+ FMVSS 127 AEB)", lambda: _problem(model_year=2029)),
    ("Part 555 exemption (`us_kei_part555`)", lambda: _problem(regulation={"profile": "us_kei_part555"})),
    ("Part 555, full-length kei (`min_length_m = 3.3`)",
     lambda: _problem(regulation={"profile": "us_kei_part555", "min_length_m": 3.3})),
    ("LSV (`us_lsv`)", lambda: _problem(regulation={"profile": "us_lsv"})),
    ("MSV (`us_msv`)", lambda: _problem(regulation={"profile": "us_msv"})),
    ("winter duty (`climate = \"cold\"`)", lambda: _problem(climate="cold")),
    ("winter duty at $22,000", lambda: _problem(climate="cold", price_cap_usd=22000.0)),
    ("45X credit", lambda: _problem(price={"apply_manufacturing_credit": True})),
    ("Japan at the pre-2025 2.5 % MFN rate", lambda: _with_sites(_problem(), JP=0.025)),
    ("no Section 232 on USMCA-qualifying cars", lambda: _with_sites(_problem(), MX=0.0)),
    ("no 232 on USMCA cars + 45X",
     lambda: _with_sites(_problem(price={"apply_manufacturing_credit": True}), MX=0.0)),
    ("an RPE at the calibration's low end", lambda: _rpe_low(_problem())),
]


def main() -> int:
    print("| scenario | result | s |")
    print("|---|---|---:|")
    times = []
    for label, make in SCENARIOS:
        t0 = time.perf_counter()
        result = _row(make())
        times.append(time.perf_counter() - t0)
        print(f"| {label} | {result} | {times[-1]:.1f} |", flush=True)
    print(f"\n{len(times)} scenarios in {sum(times):.1f} s: {sum(times) / times[0]:.1f} x the baseline row's "
          f"{times[0]:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
