"""Parts catalogs: the bundled files load and meet the minimums, their numbers are physically sane
with a source beside each, and every kind of bad input names the file, the part and the key."""
import json
import math
import shutil
import tomllib
from dataclasses import asdict

import pytest
from conftest import ROOT, run_kei

from kei.errors import ConfigError
from kei.optimizer.cli.catalog import render
from kei.optimizer.inputs.catalog import (
    FILE_NAMES,
    SCHEMAS,
    catalog_from_dicts,
    cells_from_dict,
    load_catalog,
    load_cells,
    motors_from_dict,
    pack_from_dict,
)
from kei.schema import validate_table
from kei.vehicle.files import CELL_FIELDS as VEHICLE_CELL_FIELDS

CELLS_FILE = "configs/catalog/cells.toml"

CATALOG_DIR = ROOT / "configs" / "catalog"


def _raw(kind: str) -> dict:
    with (CATALOG_DIR / FILE_NAMES[kind]).open("rb") as fh:
        return tomllib.load(fh)


def _raw_all() -> dict:
    return {kind: _raw(kind) for kind in FILE_NAMES}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


# ---- the bundled catalog ----------------------------------------------------------------------
def test_bundled_catalog_meets_the_minimums(catalog):
    cells, motors, bodies = catalog.cells, catalog.motors, catalog.bodies
    assert len(cells) >= 8 and len(motors) >= 10 and len(bodies) >= 6
    kinds = {(c.chemistry, c.format) for c in cells}
    for needed in [("lfp", "prismatic"), ("lfp", "blade"), ("nmc", "pouch"), ("nmc", "prismatic"),
                   ("lfp", "cylindrical"), ("sodium_ion", "cylindrical")]:
        assert needed in kinds, f"no {needed} cell"
    assert any(c.chemistry == "sodium_ion" for c in cells)
    assert {"US", "JP", "KR", "CN", "EU"} <= {c.origin for c in cells}
    peaks = sorted(m.peak_power_kw for m in motors)
    assert peaks[0] <= 20 and peaks[-1] >= 75, f"drive units span {peaks[0]}-{peaks[-1]} kW, want ~15-80 kW"
    assert {"mild_steel", "high_strength_steel", "aluminium_intensive"} <= {b.material for b in bodies}
    assert any(b.us_crash_compliant for b in bodies)
    # Most bodies are kei-sized (3.40 x 1.48 x 2.00 m), at least one is larger.
    kei = [b for b in bodies if b.length_m <= 3.40 and b.width_m <= 1.48 and b.height_m <= 2.00]
    assert len(kei) > len(bodies) / 2 and len(kei) < len(bodies)
    assert catalog.lightweighting and catalog.source == str(CATALOG_DIR)


# Cell-level specific energy (Wh/kg) and energy density (Wh/L) of production cells by chemistry, wide
# enough for every real cell, narrow enough to catch a unit slip (g for kg, mL for L, mAh for Ah).
# LFP 140-205 Wh/kg and 280-450 Wh/L (BYD Blade 160/355, RWTH 2025), small energy-type cylinders from
# 105 Wh/kg (A123 ANR26650: 2.3 Ah x 3.3 V in 70 g; LFP-26650-3300: 117 Wh/kg, 303 Wh/L); NMC 150-300 and 300-750 (BMW i3
# 94 Ah 174/352 to 811 cylinders); NCA 200-300 and 550-800 (Tesla 2170/4680 ~240-260); sodium-ion
# 90-180 Wh/kg (HiNa 140-145, CATL Naxtra 175) and 180-400 Wh/L.
SANE_CELLS = {"lfp": ((105, 205), (280, 450)), "nmc": ((150, 300), (300, 750)), "nca": ((200, 300), (550, 800)),
              "sodium_ion": ((90, 180), (180, 400))}


def test_cell_figures_are_physically_sane(catalog):
    for c in catalog.cells:
        (kg_lo, kg_hi), (l_lo, l_hi) = SANE_CELLS[c.chemistry]
        assert kg_lo <= c.energy_wh / c.mass_kg <= kg_hi, f"{c.id}: {c.energy_wh / c.mass_kg:.0f} Wh/kg"
        assert l_lo <= c.energy_wh / c.volume_l <= l_hi, f"{c.id}: {c.energy_wh / c.volume_l:.0f} Wh/L"
        # Pulse ratings are 1-5x the continuous rating on real datasheets.
        assert 1.0 <= c.peak_discharge_c / c.max_discharge_c <= 5.0, c.id
        # Cell density between ~1.5 and 3.2 kg/L: a mass or volume typo shows here.
        assert 1.5 <= c.mass_kg / c.volume_l <= 3.2, f"{c.id}: {c.mass_kg / c.volume_l:.2f} kg/L"
        # Every catalog cell must be writable into a design file's [battery.cell].
        validate_table({k: v for k, v in asdict(c.as_vehicle_cell()).items()}, VEHICLE_CELL_FIELDS,
                       file="design", where="battery.cell")


def test_small_format_cells_are_consistent_with_their_own_cans(catalog):
    """At least two small LFP/sodium-ion cylinders (issue 11); each cylinder's volume is its can's
    (pi/4 d^2 h from the config's own diameter and height), and its energy per can is small-format
    (below 100 Wh: the reason for their packs' many parallel strings)."""
    small = [c for c in catalog.cells if c.format == "cylindrical" and c.chemistry in ("lfp", "sodium_ion")]
    assert len(small) >= 3, [c.id for c in small]
    for c in (c for c in catalog.cells if c.format == "cylindrical"):
        assert c.diameter_mm is not None and c.height_mm is not None, f"{c.id}: can dimensions missing"
        can_l = math.pi / 4 * c.diameter_mm**2 * c.height_mm / 1e6
        assert c.volume_l == pytest.approx(can_l, rel=0.01), c.id
        assert c.energy_wh < 100, c.id
    for c in catalog.cells:
        # The nominal voltage sits inside the window a BMS cuts at, nearer the bottom for every
        # chemistry here (LFP's flat plateau, sodium-ion's sloping curve).
        assert c.min_voltage_v < c.nominal_voltage_v < c.max_voltage_v, c.id


def test_a_cylinder_whose_volume_is_not_its_can_is_refused():
    raw = _raw("cells")
    raw["bak_32140fs_lfp"]["volume_l"] = 1.212    # mL typed as 10 x L
    with pytest.raises(ConfigError) as err:
        cells_from_dict(raw, file=CELLS_FILE)
    assert "cell[bak_32140fs_lfp].volume_l" in str(err.value) and "33.2 x 140 mm" in str(err.value)
    raw = _raw("cells")
    raw["catl_lf280k"]["diameter_mm"] = 30.0
    with pytest.raises(ConfigError, match="catl_lf280k].diameter_mm"):
        cells_from_dict(raw, file=CELLS_FILE)


def test_motor_and_body_figures_are_sane(catalog):
    for m in catalog.motors:
        # APC: the machine alone costs $4.8/kW; a drive unit with inverter and gear costs more, and
        # carculator's high end is 36 EUR/kW.
        assert 4.8 < m.cost_usd / m.peak_power_kw < 45, m.id
        assert 0.1 < m.peak_power_kw / m.mass_kg < 4, m.id      # unit kW/kg; APC machine alone 4-8 kW/kg
        # Top speed with its gear on a 0.28 m wheel: between 70 and 200 km/h for any road car unit.
        ratio = m.gear_ratio or 9.0
        top_kmh = m.max_speed_rpm / ratio * 2 * math.pi / 60 * 0.28 * 3.6
        assert 70 < top_kmh < 200, f"{m.id}: {top_kmh:.0f} km/h"
    for b in catalog.bodies:
        # carculator: 12.5 EUR/kg - 900 in Europe (bodies are costed at index 1.00), + up to ~$5/kg saved for aluminium
        assert 3 < b.cost_usd / b.glider_mass_kg < 17, b.id
        assert 0.25 <= b.drag_coefficient <= 0.45, b.id
        assert 0.75 <= b.frontal_area_m2 / (b.width_m * b.height_m) <= 0.9, b.id


def test_sakura_like_build_lands_on_the_sakura_curb_mass(catalog):
    # Nissan Sakura: 1,070-1,080 kg curb (maker's spec sheet), 96 AESC 56 Ah cells, MM48 drive unit.
    cell, motor, body = catalog.cell("aesc_56ah_jp"), catalog.motor("nissan_mm48_47kw"), catalog.body("kei_hss_jp")
    pack_kwh = 96 * cell.energy_wh / 1000
    assert 19.5 <= pack_kwh <= 20.5
    pack_kg = 96 * cell.mass_kg / catalog.pack.cell_to_pack_mass_ratio
    curb_kg = body.glider_mass_kg + motor.mass_kg + pack_kg
    assert 1050 <= curb_kg <= 1100, f"{curb_kg:.0f} kg"
    assert 96 * cell.volume_l / catalog.pack.cell_to_pack_volume_ratio <= body.battery_volume_l
    assert motor.min_voltage_v <= 96 * cell.nominal_voltage_v <= motor.max_voltage_v


def test_every_number_carries_a_source_or_an_estimate():
    for name in FILE_NAMES.values():
        path = CATALOG_DIR / name
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            text = line.strip()
            if not text or text.startswith(("#", "[")):
                continue
            (value,) = tomllib.loads(text).values()
            if isinstance(value, (int, float, bool)):
                comment = text.partition("#")[2].strip()
                assert comment.startswith(("source:", "estimate:")), f"{name}:{lineno}: {text!r} has no source/estimate"


# ---- bad input names file, part and key -------------------------------------------------------
def test_bad_value_message_names_file_part_and_key():
    raw = _raw("cells")
    raw["catl_lf280k"]["capacity_ah"] = -3
    with pytest.raises(ConfigError) as err:
        cells_from_dict(raw, CELLS_FILE)
    assert str(err.value) == "configs/catalog/cells.toml: cell[catl_lf280k].capacity_ah: must be >= 0.1 Ah, got -3.0"
    assert err.value.file == CELLS_FILE and err.value.key == "cell[catl_lf280k].capacity_ah"


@pytest.mark.parametrize("key,value", [("mass_kg", "heavy"), ("mass_kg", True), ("volume_l", float("nan")),
                                       ("chemistry", "unobtainium"), ("format", "coin"), ("origin", "Atlantis"),
                                       ("max_charge_c", None)])
def test_bad_or_missing_values_are_named(key, value):
    raw = _raw("cells")
    if value is None:
        del raw["eve_lf105"][key]
    else:
        raw["eve_lf105"][key] = value
    with pytest.raises(ConfigError) as err:
        cells_from_dict(raw, CELLS_FILE)
    assert err.value.key == f"cell[eve_lf105].{key}" and CELLS_FILE in str(err.value)


def test_unknown_key_is_named_with_a_hint():
    raw = _raw("motors")
    raw["nissan_mm48_47kw"]["peak_power_kW"] = 47.0
    with pytest.raises(ConfigError) as err:
        motors_from_dict(raw, "motors.toml")
    assert err.value.key == "motor[nissan_mm48_47kw].peak_power_kW"
    assert "unknown key" in str(err.value) and "peak_power_kw" in str(err.value) and "motors.toml" in str(err.value)


def test_duplicate_id_in_one_file_names_file_and_part(tmp_path):
    text = (CATALOG_DIR / "cells.toml").read_text()
    start = text.index("[eve_lf105]")
    block = text[start:text.index("\n[", start + 1)]
    bad = tmp_path / "cells.toml"
    bad.write_text(text + "\n" + block + "\n")
    with pytest.raises(ConfigError) as err:
        load_cells(bad)
    assert str(bad) in str(err.value) and "eve_lf105" in str(err.value)


def test_duplicate_id_across_files_names_both():
    raw = _raw_all()
    raw["motors"]["eve_lf105"] = raw["motors"]["nissan_mm48_47kw"]
    with pytest.raises(ConfigError) as err:
        catalog_from_dicts(**raw)
    assert err.value.file == "motors.toml" and err.value.key == "motor[eve_lf105]"
    assert "cells.toml" in str(err.value)


@pytest.mark.parametrize("index,key,value", [(2, "cost_usd_per_kg", 4.0), (3, "up_to_kg", 150.0)])
def test_non_convex_lightweighting_curve_is_rejected(index, key, value):
    raw = _raw("pack")
    raw["lightweighting"][index][key] = value
    with pytest.raises(ConfigError) as err:
        pack_from_dict(raw, "pack.toml")
    assert err.value.file == "pack.toml" and err.value.key == f"lightweighting[{index}].{key}"


@pytest.mark.parametrize("kind,part,changes,key", [
    ("cells", "eve_lf105", {"min_voltage_v": 3.3}, "cell[eve_lf105].nominal_voltage_v"),
    ("cells", "eve_lf105", {"peak_discharge_c": 0.5}, "cell[eve_lf105].peak_discharge_c"),  # below its 1C continuous
    ("motors", "vw_eup_61kw", {"continuous_power_kw": 70.0}, "motor[vw_eup_61kw].continuous_power_kw"),
    ("motors", "vw_eup_61kw", {"min_voltage_v": 500.0}, "motor[vw_eup_61kw].min_voltage_v"),
    # 61 kW needs 212 N m beyond 2,750 rpm; 2,000 rpm cannot deliver it.
    ("motors", "vw_eup_61kw", {"max_speed_rpm": 2000.0}, "motor[vw_eup_61kw].peak_power_kw"),
    ("bodies", "kei_hss_jp", {"frontal_area_m2": 2.6}, "body[kei_hss_jp].frontal_area_m2"),
    ("bodies", "kei_hss_jp", {"lightweighting_max_kg": 400.0}, "body[kei_hss_jp].lightweighting_max_kg"),
    ("pack", "pack", {"min_series": 200}, "pack.min_series"),
])
def test_cross_checks_name_the_key(kind, part, changes, key):
    raw = _raw_all()
    raw[kind][part].update(changes)
    with pytest.raises(ConfigError) as err:
        catalog_from_dicts(**raw)
    assert err.value.key == key and err.value.file == FILE_NAMES[kind]


def test_bad_part_id_and_non_table_entries():
    raw = _raw("cells")
    raw["CATL LF280K"] = raw.pop("catl_lf280k")
    with pytest.raises(ConfigError, match=r"cell\[CATL LF280K\]"):
        cells_from_dict(raw)
    with pytest.raises(ConfigError, match="voltage"):
        cells_from_dict({"voltage": 3.2})


def test_missing_file_in_catalog_dir_is_named(tmp_path):
    for name in ("cells.toml", "motors.toml", "bodies.toml"):
        shutil.copy(CATALOG_DIR / name, tmp_path / name)
    with pytest.raises(ConfigError, match="pack.toml: file not found"):
        load_catalog(tmp_path)


def test_every_schema_field_is_declared_with_unit_and_description():
    for kind, fields in SCHEMAS.items():
        for f in fields:
            assert f.unit and f.description, f"{kind}.{f.name}"
            if f.kind in (int, float):
                assert f.min is not None and f.max is not None, f"{kind}.{f.name} lacks bounds"


# ---- the command and the docs -----------------------------------------------------------------
def test_kei_catalog_text_and_json(catalog):
    out = run_kei("catalog")
    assert out.returncode == 0, out.stderr
    for part in catalog.cells + catalog.motors + catalog.bodies:
        assert part.id in out.stdout
    out = run_kei("catalog", "--json")
    data = json.loads(out.stdout)
    assert [c["id"] for c in data["cells"]] == [c.id for c in catalog.cells]
    lf280k = data["cells"][0]
    assert lf280k["specific_energy_wh_per_kg"] == pytest.approx(896 / 5.49)
    assert len(data["lightweighting"]) == len(catalog.lightweighting)


def test_kei_catalog_with_a_broken_dir_exits_3_naming_the_key(tmp_path):
    for name in FILE_NAMES.values():
        shutil.copy(CATALOG_DIR / name, tmp_path / name)
    cells = tmp_path / "cells.toml"
    cells.write_text(cells.read_text().replace("capacity_ah = 105.0", "capacity_ah = -105.0"))
    out = run_kei("catalog", "--dir", tmp_path)
    assert out.returncode == 3
    assert f"{cells}: cell[eve_lf105].capacity_ah: must be >= 0.1 Ah" in out.stderr


def test_docs_tables_match_the_catalog(catalog):
    doc = (ROOT / "docs" / "catalog.md").read_text()
    assert render(catalog, markdown=True) in doc, \
        "docs/catalog.md is stale: paste the output of `python3 -m optimizer catalog --markdown`"
    for kind, fields in SCHEMAS.items():
        for f in fields:
            assert f"`{f.name}`" in doc, f"docs/catalog.md lacks {kind}.{f.name}"
