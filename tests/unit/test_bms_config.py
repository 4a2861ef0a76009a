"""configs/bms.toml: schema, provenance of every number, OCV tables re-derived from their knots."""
import copy
import re
import tomllib

import pytest

from kei.errors import ConfigError
from kei.hil.setup.bms_config import bms_config_file, bms_config_from_dict, load_bms_config

SOC_GRID = [i / 20 for i in range(21)]


def _raw():
    with open(bms_config_file(), "rb") as fh:
        return tomllib.load(fh)


def pchip(xs, ys, x):
    """Monotone cubic Hermite interpolation (Fritsch-Carlson interior slopes, three-point shape-preserving
    end slopes, as scipy.interpolate.PchipInterpolator), written out here to check the config's tables."""
    n = len(xs)
    h = [xs[k + 1] - xs[k] for k in range(n - 1)]
    d = [(ys[k + 1] - ys[k]) / h[k] for k in range(n - 1)]
    m = [0.0] * n
    for k in range(1, n - 1):
        if d[k - 1] * d[k] > 0:
            w1, w2 = 2 * h[k] + h[k - 1], h[k] + 2 * h[k - 1]
            m[k] = (w1 + w2) / (w1 / d[k - 1] + w2 / d[k])

    def end(h0, h1, d0, d1):
        s = ((2 * h0 + h1) * d0 - h0 * d1) / (h0 + h1)
        if s * d0 <= 0:
            return 0.0
        if d0 * d1 < 0 and abs(s) > abs(3 * d0):
            return 3 * d0
        return s

    m[0], m[-1] = end(h[0], h[1], d[0], d[1]), end(h[-1], h[-2], d[-1], d[-2])
    k = max(i for i in range(n - 1) if xs[i] <= x) if x < xs[-1] else n - 2
    t = (x - xs[k]) / h[k]
    return ((2 * t**3 - 3 * t**2 + 1) * ys[k] + (t**3 - 2 * t**2 + t) * h[k] * m[k]
            + (-2 * t**3 + 3 * t**2) * ys[k + 1] + (t**3 - t**2) * h[k] * m[k + 1])


def test_tables_are_the_pchip_of_their_knots():
    cfg = load_bms_config()
    assert set(cfg.chemistries) >= {"lfp", "nmc", "sodium_ion", "nca"}
    for chem in cfg.chemistries.values():
        derived = [round(pchip(chem.ocv_knots_soc, chem.ocv_knots_v, s), 3) for s in SOC_GRID]
        assert list(chem.ocv_v) == pytest.approx(derived, abs=1e-9), chem.name


def test_anchors_from_the_references_and_datasheet_ends():
    cfg = load_bms_config()
    # hil-references.md (PyBaMM ECM set): OCV at 5 % and 50 % SOC.
    for name, v5, v50 in (("lfp", 3.132, 3.265), ("nmc", 3.588, 3.838)):
        chem = cfg.chemistry(name)
        assert chem.ocv_v[1] == v5 and chem.ocv_v[10] == v50
    # 0 % / 100 % sit at the generic cell's cut-off voltages, inside the protection limits.
    for chem in cfg.chemistries.values():
        g = chem.generic_cell
        assert chem.ocv_v[0] == g.min_voltage_v and chem.ocv_v[-1] == g.max_voltage_v
        assert g.min_voltage_v + chem.uv_margin_v <= chem.ocv_v[0]
        assert g.max_voltage_v + chem.ov_margin_v >= chem.ocv_v[-1]


def test_lfp_plateau_is_below_the_ocv_correction_slope_and_nmc_is_not():
    cfg = load_bms_config()
    min_slope = cfg.bms["ocv_min_slope_v"]
    lfp, nmc = cfg.chemistry("lfp").ocv_v, cfg.chemistry("nmc").ocv_v
    assert all((lfp[i + 1] - lfp[i]) / 0.05 < min_slope for i in range(4, 16))  # 20-80 %
    assert all((nmc[i + 1] - nmc[i]) / 0.05 >= min_slope for i in range(20))


def test_every_number_has_a_source_or_an_estimate():
    for n, line in enumerate(bms_config_file().read_text().splitlines(), 1):
        m = re.match(r"\s*(\w+)\s*=\s*[-\d.]", line)
        if m and not m.group(1).startswith("ocv_"):  # table lines are documented in the block comments above them
            assert re.search(r"#.*(source|estimate)", line), f"bms.toml line {n}: {line.strip()}"


@pytest.mark.parametrize("edit,key", [
    (lambda r: r["bms"].__setitem__("capacity_sprad", 0.1), "bms.capacity_sprad"),
    (lambda r: r["chemistry"]["nmc"].__setitem__("ocv_v", r["chemistry"]["nmc"]["ocv_v"][:-1]), "chemistry.nmc.ocv_v"),
    (lambda r: r["chemistry"]["lfp"]["ocv_v"].reverse(), "chemistry.lfp.ocv_v"),
    (lambda r: r["chemistry"]["lfp"].__setitem__("temp_derate_c", 70.0), "chemistry.lfp.temp_derate_c"),
    (lambda r: r["chemistry"]["nmc"].pop("generic_cell"), "chemistry.nmc.generic_cell"),
    (lambda r: r["cell_model"].__setitem__("r1_share_of_dcir", 0.5), "cell_model.r1_share_of_dcir"),
    (lambda r: r.pop("thermal"), "thermal"),
    (lambda r: r["start"].__setitem__("soc", "full"), "start.soc"),
])
def test_bad_config_names_file_and_key(edit, key):
    raw = copy.deepcopy(_raw())
    edit(raw)
    with pytest.raises(ConfigError) as err:
        bms_config_from_dict(raw, file="my_bms.toml")
    assert err.value.key == key and "my_bms.toml" in str(err.value)


def test_unknown_chemistry_is_named():
    with pytest.raises(ConfigError, match=r"chemistry.lmfp.*add a \[chemistry.lmfp\] table"):
        load_bms_config().chemistry("lmfp")
