"""Design / vehicle file -> OCV_TABLE + CONFIGURE: the pack, its limits and the start state."""
import dataclasses
import tomllib
from pathlib import Path

import pytest

from kei.errors import ConfigError
from kei.hil.setup.bms_config import load_bms_config
from kei.hil.setup.pack_setup import pack_setup, restore_configure
from kei.hil.wire.protocol import Chemistry, Telemetry, configure_errors, decode, ocv_table_errors
from kei.vehicle.files import load_vehicle

ROOT = Path(__file__).resolve().parents[2]
SAKURA_PACK = ROOT / "configs" / "designs" / "sakura_pack.toml"


@pytest.fixture(scope="module")
def bms():
    return load_bms_config()


def test_design_file_gives_its_pack(bms):
    v = load_vehicle(SAKURA_PACK)
    cell = v.battery.cell
    setup = pack_setup(v, bms)
    c = setup.configure
    assert (c.series, c.parallel, c.chemistry) == (v.battery.series, v.battery.parallel, Chemistry.NMC)
    assert c.capacity_ah == cell.capacity_ah
    dcir = cell.internal_resistance_mohm / 1000
    assert c.r0_ohm == pytest.approx(bms.cell_model["r0_share_of_dcir"] * dcir)
    assert c.r0_ohm + c.r1_ohm == pytest.approx(dcir)
    nmc = bms.chemistry("nmc")
    assert c.cell_uv_v == pytest.approx(cell.min_voltage_v + nmc.uv_margin_v)
    assert c.cell_ov_v == pytest.approx(cell.max_voltage_v + nmc.ov_margin_v)
    # Pack currents are the energy model's (optimizer.vehicle.Battery), so bench and model agree: the BMS
    # allows each ~1-s step the pack's pulse current, the energy model's per-step limit.
    assert c.max_discharge_a == pytest.approx(v.battery.peak_discharge_current_a)
    assert c.max_discharge_a > v.battery.max_discharge_current_a  # the hand-made pack's cell: 2C continuous, 3C pulse
    assert c.max_charge_a == pytest.approx(v.battery.max_charge_current_a)
    cells = c.series * c.parallel
    assert c.heat_capacity_j_per_k == pytest.approx(bms.thermal["specific_heat_j_per_kg_k"] * cell.mass_kg * cells)
    assert c.rest_current_a == pytest.approx(bms.bms["rest_current_c"] * cell.capacity_ah * c.parallel)
    # A fresh run: the start SOC, ambient temperature, nothing applied yet.
    assert c.soc_true == c.soc_weak_true == c.soc_estimate == bms.start["soc"]
    assert (c.last_seq, c.step_count, c.energy_out_wh, c.temperature_c) == (0, 0, 0.0, bms.thermal["ambient_c"])
    assert setup.ocv_table.ocv_mv == nmc.ocv_mv
    assert configure_errors(c, 1024) == [] and ocv_table_errors(setup.ocv_table) == []
    assert setup.notes == ()  # the design's nominal voltage matches the table: nothing to warn about
    assert [decode(m.encode()).TYPE for m in setup.messages] == [0x03, 0x02]


def test_vehicle_without_cell_gets_a_generic_cell_holding_its_energy(bms, sakura_path):
    v = load_vehicle(sakura_path)
    assert v.battery.cell is None
    setup = pack_setup(v, bms)
    cell, c = setup.cell, setup.configure
    assert setup.generic_cell and "generic nmc cell" in setup.notes[0]
    nmc = bms.chemistry("nmc")
    # The emulated pack holds the stated energy at its mean OCV, at about the stated voltage...
    energy_wh = c.series * c.parallel * c.capacity_ah * nmc.mean_ocv_v
    assert energy_wh == pytest.approx(v.battery.energy_kwh * 1000, rel=1e-12)
    assert abs(c.series * nmc.mean_ocv_v / v.battery.nominal_voltage_v - 1) < 0.5 / c.series + 1e-9
    # ...with the pack resistance the energy model uses for this vehicle.
    pack_r = (c.r0_ohm + c.r1_ohm) * c.series / c.parallel
    assert pack_r == pytest.approx(v.battery.resistance_ohm, rel=1e-12)
    assert cell.min_voltage_v == nmc.generic_cell.min_voltage_v
    assert c.max_discharge_a == pytest.approx(cell.capacity_ah * nmc.generic_cell.peak_discharge_c)


def test_every_catalog_chemistry_runs_on_the_bench(bms):
    """Each chemistry a catalog cell has gets an OCV table, limits and its own protocol code, and a pack
    of each catalog cell makes a valid CONFIGURE (the bench can run any design kei solve writes)."""
    from kei.optimizer.inputs.catalog import load_catalog
    from kei.vehicle.files import vehicle_from_dict, vehicle_to_toml

    sakura = load_vehicle(SAKURA_PACK)
    for spec in load_catalog().cells:
        assert Chemistry.from_name(spec.chemistry) != Chemistry.OTHER, spec.chemistry
        cell = spec.as_vehicle_cell()
        series = round(350 / cell.nominal_voltage_v)
        battery = dataclasses.replace(sakura.battery, chemistry=cell.chemistry, cell=cell, cell_id=cell.id, series=series,
                                      parallel=1, energy_kwh=series * cell.energy_wh / 1000,
                                      nominal_voltage_v=series * cell.nominal_voltage_v)
        v = vehicle_from_dict(tomllib.loads(vehicle_to_toml(dataclasses.replace(sakura, battery=battery))), file="x")
        setup = pack_setup(v, bms)
        assert setup.configure.chemistry == Chemistry.from_name(spec.chemistry) == setup.ocv_table.chemistry
        assert configure_errors(setup.configure, 1024) == [] and ocv_table_errors(setup.ocv_table) == []
        assert setup.configure.max_discharge_a == pytest.approx(cell.capacity_ah * spec.peak_discharge_c)
        # The table's mean OCV is within a few per cent of the cell's nominal voltage (NCA: 3.63 vs 3.60 V).
        assert abs(bms.chemistry(spec.chemistry).mean_ocv_v / cell.nominal_voltage_v - 1) < 0.06, spec.id


def test_chemistry_without_a_table_is_a_config_error(bms, sakura_path):
    v = load_vehicle(sakura_path)
    v = dataclasses.replace(v, battery=dataclasses.replace(v.battery, chemistry="lmfp"))
    with pytest.raises(ConfigError) as err:
        pack_setup(v, bms)
    assert err.value.key == "chemistry.lmfp" and "bms.toml" in err.value.file


def test_restore_configure_takes_the_state_of_the_last_telemetry(bms):
    c = pack_setup(load_vehicle(SAKURA_PACK), bms).configure
    t = Telemetry(seq=4321, step_count=4400, pack_voltage_v=330.0, pack_current_a=20.0, soc_estimate=1.004,
                  soc_true=0.55, cell_v_min_v=3.7, cell_v_max_v=3.75, temperature_c=31.5, allowed_discharge_a=150.0,
                  allowed_charge_a=50.0, energy_out_wh=7777.0, soc_weak_true=0.54, fault_flags=0, contactor=1)
    r = restore_configure(c, t, seq=9)
    assert (r.seq, r.last_seq, r.step_count) == (9, 4321, 4400)
    assert (r.soc_true, r.soc_weak_true, r.temperature_c, r.energy_out_wh) == (0.55, 0.54, 31.5, 7777.0)
    assert r.soc_estimate == 1.0  # clamped into the range CONFIGURE accepts
    assert (r.series, r.capacity_ah, r.cell_uv_v) == (c.series, c.capacity_ah, c.cell_uv_v)
    assert configure_errors(r, 1024) == []
