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


def test_drift_is_corrected_instead_of_reported():
    """Cells that accept almost no charge current: the fit assumes full regeneration, the full
    simulation clips it, so the linear model overestimates range by several percent."""
    catalog = load_catalog(ROOT / "configs" / "catalog")
    catalog = dataclasses.replace(catalog, cells=tuple(dataclasses.replace(c, max_charge_c=0.1) for c in catalog.cells))
    problem = load_problem(ROOT / "configs" / "problems" / "jp_kei.toml")
    unverified = solve(problem, catalog=catalog, verify=False)
    sim = simulate(to_vehicle(unverified.data, unverified.best), load_cycle(problem.cycle))
    assert unverified.best.range_km / sim.range_km - 1 > 0.02  # the uncorrected model would be wrong

    sol = solve(problem, catalog=catalog)
    assert sol.corrections >= 1
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
