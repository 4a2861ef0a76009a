"""The MILP against exhaustive enumeration on small random catalogs (real HiGHS, no mocks).

Both solve the same model (fits, performance limits and prices from `prepare`); the enumeration
evaluates every (cell, parallel, series, motor, body) with the lightweighting solved exactly per
combination and shares no code with the Pyomo builders. They must agree on the optimum value, on
infeasibility, and (for --top K) on the K best distinct part combinations in order.
"""
from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from random_catalogs import catalogs, problems

from kei.errors import InfeasibleError
from kei.optimizer.prepare.model_data import prepare
from kei.optimizer.solving.brute_force import enumerate_designs
from kei.optimizer.solving.pipeline import solve
from kei.optimizer.solving.solver import load_solver_settings
from kei.vehicle.cycles import load_cycle
from kei.vehicle.files import load_model_defaults

# Ratio and MIP tolerances are 1e-7 (configs/solver.toml); the oracle's limits have 1e-9 slack.
AGREE = 1e-6
ORACLE_SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                           suppress_health_check=list(HealthCheck))


def _oracle(catalog, problem, top=1):
    try:
        d = prepare(catalog, problem, load_cycle(problem.cycle), load_model_defaults(), load_solver_settings(),
                    price_screen=False)
    except InfeasibleError:
        return []
    return enumerate_designs(d, top=top).best


def _milp(catalog, problem, top=1):
    try:
        return solve(problem, catalog=catalog, top=top, verify=False).designs
    except InfeasibleError as err:
        assert err.explanation and err.explanation != "infeasible"
        return []


def _value(problem, design):
    return design.range_km if problem.objective == "max_range" else design.price_usd


@pytest.mark.parametrize("small_cells", [False, True], ids=["large_cells", "small_cells"])
@pytest.mark.parametrize("objective", ["max_range", "min_price"])
def test_milp_optimum_equals_exhaustive_enumeration(objective, small_cells):
    """Large cells: packs sized by voltage, volume, price and range. Small cells in many strings: packs
    small enough that the peak and continuous power constraints set their size (both bind on the
    min_price examples)."""
    @ORACLE_SETTINGS
    @given(catalog=catalogs(small_cells=small_cells, derived_parallel=True), problem=problems(objective))
    def check(catalog, problem):
        _assert_same_optimum(catalog, problem)

    check()


def _assert_same_optimum(catalog, problem):
    best = _oracle(catalog, problem)
    found = _milp(catalog, problem)
    assert bool(best) == bool(found), f"oracle {best[:1]} vs MILP {found[:1]}"
    if best:
        assert _value(problem, found[0]) == pytest.approx(best[0].value, rel=AGREE)
        assert math.isfinite(best[0].value)


def test_top_k_are_the_k_best_distinct_part_combinations_in_order():
    @settings(max_examples=15, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    @given(catalog=catalogs(derived_parallel=True), problem=problems("max_range"))
    def check(catalog, problem):
        k = 4
        expected = _oracle(catalog, problem, top=k)
        found = _milp(catalog, problem, top=k)
        assert len(found) == len(expected)
        values = [_value(problem, x) for x in found]
        assert values == sorted(values, reverse=True)
        parts = [(x.cell.id, x.motor.id, x.body.id) for x in found]
        assert len(set(parts)) == len(parts)
        for x, e in zip(found, expected):
            assert _value(problem, x) == pytest.approx(e.value, rel=AGREE)

    check()


@pytest.mark.parametrize("objective", ["max_range", "min_price"])
def test_milp_with_content_options_equals_exhaustive_enumeration(objective):
    """Content options (one per group, with cost, mass, drag, rolling and auxiliary effects) and a
    required line: the MILP's epigraph rows against the enumeration of every option combination."""
    @settings(max_examples=30, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    @given(catalog=catalogs(with_content=True), problem=problems(objective, with_content=True))
    def check(catalog, problem):
        _assert_same_optimum(catalog, problem)

    check()
