"""Every optimum is re-simulated; where the linear model drifts, that design is corrected and the MILP re-solved."""
import dataclasses

import pytest
from conftest import ROOT

from kei.optimizer.answers.design import to_vehicle
from kei.optimizer.inputs.catalog import load_catalog
from kei.optimizer.inputs.problem import load_problem
from kei.optimizer.solving.pipeline import solve
from kei.vehicle.cycles import load_cycle
from kei.vehicle.energy import simulate


def test_a_pack_that_takes_little_charge_current_is_modelled_then_verified():
    """Cells that accept almost no charge current: the simulation clips regeneration by several percent
    of the energy; the fit's charge-limit loss (prepare/charge_limit.py) carries it, so the model agrees
    with the simulation before any correction, and the verified answer after."""
    catalog = load_catalog(ROOT / "configs" / "catalog")
    catalog = dataclasses.replace(catalog, cells=tuple(dataclasses.replace(c, max_charge_c=0.1) for c in catalog.cells))
    problem = load_problem(ROOT / "configs" / "problems" / "jp_kei.toml")
    unverified = solve(problem, catalog=catalog, verify=False)
    x, d = unverified.best, unverified.data
    sim = simulate(to_vehicle(d, x), load_cycle(problem.cycle))
    ch = x.choice
    charge_loss = d.charge_loss_wh_per_km(ch.pair, x.test_mass_kg, ch.layout, ch.series)
    assert charge_loss > 0.02 * d.wh_per_km(ch.pair, x.test_mass_kg, ch.layout, ch.series, ch.options)  # it bites
    assert abs(x.range_km / sim.range_km - 1) < 0.01     # and the model sees it

    sol = solve(problem, catalog=catalog)
    assert sol.corrections >= 1 and sol.certificate["proven"]
    best = sol.best
    assert abs(best.drift) <= 0.01
    again = simulate(to_vehicle(sol.data, best), load_cycle(problem.cycle))
    assert again.range_km == pytest.approx(best.verified_range_km, rel=1e-12)
    assert best.range_km == pytest.approx(again.range_km, rel=0.01)


def test_fits_are_never_reused_across_model_defaults(tmp_path, monkeypatch):
    """One process, two solves, the second with a lab's model defaults (KEI_CONFIG_DIR): the second
    must be fitted on its own defaults, not served the first one's cached fits."""
    from conftest import ROOT

    import kei

    first = kei.solve("jp_kei")
    text = (ROOT / "configs" / "model_defaults.toml").read_text()
    line = next(l for l in text.splitlines() if l.startswith("power_w ="))
    (tmp_path / "model_defaults.toml").write_text(text.replace(line, "power_w = 900.0"))
    monkeypatch.setenv("KEI_CONFIG_DIR", str(tmp_path))
    second = kei.solve("jp_kei")
    assert second.best.verified_range_km < 0.9 * first.best.verified_range_km   # 900 W of auxiliaries cost range
    assert abs(second.best.model_drift) < 0.01       # fitted on its own defaults: the plain fit agrees with the simulation
