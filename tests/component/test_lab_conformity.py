"""The emulated lab instruments checked by clients nobody here wrote (issue 13, "Conformity"):
PyVISA drives the SCPI source/load, `bmstools` reads the JBD emulator, `dalybms` the Daly emulator,
python-can (its slcan interface over a pty, and its virtual bus) carries the CAN BMS, decoded by
cantools from the DBC. kei's own clients must decode the same values from the same frames."""
import pytest
import serial
from lab_support import design_pack, lab_config_file, start_emulator

from kei.hil.emulator.can_bms import CELLS_PER_FRAME, CanBms
from kei.hil.emulator.lab_bench import LabBench
from kei.hil.errors import InstrumentError
from kei.hil.lab.bms_clients import bms_client
from kei.hil.lab.config import dbc_path, load_lab_config
from kei.hil.lab.instrument import ScpiInstrument
from kei.hil.lab.scpi_models import SCPI_MODELS

pyvisa = pytest.importorskip("pyvisa", reason="the lab extra (pip install -e '.[test]') installs PyVISA")


def visa(resource):
    rm = pyvisa.ResourceManager("@py")
    return rm.open_resource(resource, read_termination="\n", write_termination="\n", timeout=3000)


@pytest.fixture
def emulator(tmp_path, request):
    em = start_emulator(tmp_path, **getattr(request, "param", {}))
    yield em
    em.stop()


def drive(resource, level, seconds, on=":OUTP:STAT ON", level_cmd=":SOUR:CURR:LEV:IMM"):
    """Put a current through the emulated pack for `seconds` of emulated time (PyVISA)."""
    inst = visa(resource)
    inst.write(f"{level_cmd} {level}")
    inst.write(on)
    inst.write(f":SYST:CLOC:ADV {seconds}")
    assert inst.query(":SYST:ERR?").startswith("0,")
    inst.close()


@pytest.mark.parametrize("emulator", [{"model": "generic"}, {"model": "sdl1000x"}, {"model": "dl3000"}],
                         indirect=True, ids=["generic", "sdl1000x", "dl3000"])
def test_pyvisa_round_trips_idn_setpoints_and_measurements(emulator):
    model = SCPI_MODELS[emulator.info["model"]]
    inst = visa(emulator.info["scpi"])
    idn = inst.query("*IDN?")
    assert model.matches(idn) and idn.count(",") == 3
    for cmd in model.setup:
        inst.write(cmd)
    inst.write(model.level(20.0))                       # 20 A discharge in the model's own sign
    assert float(inst.query(model.set_level.split()[0] + "?")) == pytest.approx(model.sign * 20.0)
    assert inst.query(model.output_query) == "0"
    v0, i0 = (float(x) for x in inst.query(model.measure).split(";"))
    assert i0 == 0.0 and 3.6 * SERIES < v0 < 4.2 * SERIES  # NCA cells in series at 95 % SOC, at rest
    inst.write(model.output_on)
    assert inst.query(model.output_query) == "1"
    v1, i1 = (float(x) for x in inst.query(model.measure).split(";"))
    assert model.sign * i1 == pytest.approx(20.0) and v1 < v0  # the ohmic drop at once
    inst.write(":SYST:CLOC:ADV 600")
    assert float(inst.query(":SYST:CLOC?")) == pytest.approx(600.0)
    v2 = float(inst.query(model.measure).split(";")[0])
    assert v2 < v1                                      # 3.3 Ah out of the pack
    inst.write(model.output_off)
    assert inst.query(model.output_query) == "0" and inst.query(":SYST:ERR?").startswith("0,")
    inst.write(model.level(1e6))                        # beyond the rating: refused, the level unchanged
    assert inst.query(":SYST:ERR?").startswith("-222")
    inst.write(":NOT:A:COMMand 1")
    assert inst.query(":SYST:ERR?") == '-113,"Undefined header"'
    inst.close()


def test_a_command_table_for_another_model_is_refused(tmp_path):
    """kei's generic table against an emulated SDL1000X: its *IDN? matches, but its tree has no
    OUTPut, so configure() fails naming the errors; the Siglent table is refused by *IDN?."""
    em = start_emulator(tmp_path, model="sdl1000x")
    try:
        inst = ScpiInstrument(SCPI_MODELS["generic"], em.info["scpi"])
        inst.open()
        with pytest.raises(InstrumentError, match="-113"):
            inst.configure()
        inst.close()
        with pytest.raises(InstrumentError, match="not a Rigol"):
            ScpiInstrument(SCPI_MODELS["dl3000"], em.info["scpi"]).open()
    finally:
        em.stop()


def test_scpi_over_a_pty_as_an_rs232_instrument(tmp_path):
    em = start_emulator(tmp_path)  # --scpi-pty is not in the config: start one by hand
    em.stop()
    import json
    import subprocess
    import sys

    from kei.hil.lab.emulated import write_pack

    configure, ocv = design_pack()
    proc = subprocess.Popen([sys.executable, "-m", "kei.hil.emulator.lab_main", "--pack",
                             str(write_pack(tmp_path, configure, ocv)), "--scpi-pty"], stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(proc.stdout.readline().split(" ", 1)[1])
        inst = ScpiInstrument(SCPI_MODELS["generic"], f"ASRL{info['scpi_pty']}::INSTR")
        assert "KEI" in inst.open()
        inst.configure()
        inst.set_current(-10.0)  # charge 10 A
        inst.output(True)
        v, i = inst.measure()
        assert i == pytest.approx(-10.0) and inst.output_is_on()
        inst.output(False)
        assert not inst.output_is_on()
        inst.close()
    finally:
        proc.terminate()
        proc.wait(5)


def kei_reading(tmp_path, em, protocol):
    cfg = load_lab_config(lab_config_file(tmp_path, f"r_{protocol}.toml", bms={"protocol": protocol}))
    client = bms_client(cfg.bms, em.info["bms"], dbc=dbc_path(cfg.bms, cfg.source) if protocol == "can" else None)
    client.open()
    try:
        return client.read(cells=True)
    finally:
        client.close()


SERIES = design_pack()[0].series
PACK_AH = design_pack()[0].parallel * design_pack()[0].capacity_ah
TRIP_CELL_A = 150.0 / 16  # per parallel cell: what the protection test was set up with on a 16p pack


def expected_soc(current_a, seconds):
    """bms.toml: start at 0.95, a current sensor 1 % high; the design's pack capacity."""
    return 0.95 - current_a * seconds / 3600.0 / PACK_AH * 1.01


FLOWS = pytest.mark.parametrize("current_a,seconds", [(45.5, 1800), (-30.0, 300)], ids=["discharging", "charging"])


@FLOWS
def test_bmstools_and_kei_decode_the_same_jbd_frames(tmp_path, current_a, seconds):
    from bmstools.jbd import JBD

    em = start_emulator(tmp_path, bms="jbd")
    try:
        drive(em.info["scpi"], -current_a, seconds)   # generic: negative level = sink = discharge
        jbd = JBD(serial.Serial(em.info["bms"]), timeout=1)
        basic, cells = jbd.readBasicInfo(), jbd.readCellInfo()
        ours = kei_reading(tmp_path, em, "jbd")
    finally:
        em.stop()
    assert ours.pack_voltage_v == pytest.approx(basic["pack_mv"] / 1000.0, abs=1e-9)
    assert ours.current_a == pytest.approx(-basic["pack_ma"] / 1000.0, abs=1e-9) == pytest.approx(current_a)
    assert ours.soc == pytest.approx(basic["cur_cap"] / basic["full_cap"], abs=1e-12)
    assert round(100 * ours.soc) == basic["cap_pct"]
    assert ours.soc == pytest.approx(expected_soc(current_a, seconds), abs=2e-4)
    theirs = [cells[f"cell{i}_mv"] / 1000.0 for i in range(basic["cell_cnt"])]
    assert ours.cells_v == theirs and len(theirs) == SERIES
    assert (ours.cell_v_min_v, ours.cell_v_max_v) == (min(theirs), max(theirs))
    assert ours.temp_max_c == pytest.approx(max(basic[f"ntc{i}"] for i in range(basic["ntc_cnt"])))
    assert ours.contactor == basic["dsg_fet_en"] is True and ours.fault_flags == basic["fault_raw"] == 0


@FLOWS
def test_dalybms_and_kei_decode_the_same_daly_frames(tmp_path, current_a, seconds):
    from dalybms import DalyBMS

    em = start_emulator(tmp_path, bms="daly")
    try:
        drive(em.info["scpi"], -current_a, seconds)
        daly = DalyBMS(request_retries=1, address=4)
        daly.connect(em.info["bms"])
        soc, rng, mos = daly.get_soc(), daly.get_cell_voltage_range(), daly.get_mosfet_status()
        cells = daly.get_cell_voltages()
        temps = daly.get_temperature_range()
        errors = daly.get_errors()
        daly.disconnect()
        ours = kei_reading(tmp_path, em, "daly")
    finally:
        em.stop()
    assert ours.pack_voltage_v == pytest.approx(soc["total_voltage"], abs=1e-9)
    assert ours.current_a == pytest.approx(soc["current"], abs=1e-9) == pytest.approx(current_a)
    assert ours.soc == pytest.approx(soc["soc_percent"] / 100.0, abs=1e-12)
    assert ours.soc == pytest.approx(expected_soc(current_a, seconds), abs=1e-3)
    assert (ours.cell_v_min_v, ours.cell_v_max_v) == (rng["lowest_voltage"], rng["highest_voltage"])
    assert ours.cells_v == [cells[i] for i in range(1, SERIES + 1)]
    assert ours.temp_max_c == temps["highest_temperature"] and ours.contactor == mos["discharging_mosfet"] is True
    assert errors == [] and ours.fault_flags == 0


def bench_state():
    configure, ocv = design_pack()
    bench = LabBench(configure, ocv.ocv_mv)
    bench.set_current(60.0)
    bench.set_output(True)
    bench.advance(900.0)
    return bench


def test_can_frames_on_python_can_virtual_bus_decode_with_cantools(tmp_path):
    """The CAN BMS's frames cross python-can's virtual bus; kei's client (cantools + the DBC) reads
    what the emulated pack holds, to the DBC's resolution."""
    import can

    bench = bench_state()
    cfg = load_lab_config(lab_config_file(tmp_path, bms={"protocol": "can", "can_interface": "virtual",
                                                           "can_channel": "kei-test", "retries": 1}))
    client = bms_client(cfg.bms, dbc=dbc_path(cfg.bms, cfg.source))
    client.open()
    tx = can.Bus(interface="virtual", channel="kei-test")
    try:
        emulated = CanBms(bench)
        for _ in range(-(-SERIES // CELLS_PER_FRAME)):  # every cell voltage frame, round robin
            for can_id, data in emulated.broadcast():
                tx.send(can.Message(arbitration_id=can_id, data=data, is_extended_id=False))
        r = client.read(cells=True)
    finally:
        tx.shutdown()
        client.close()
    bms, p = bench.bms, bench.bms.pack
    assert r.pack_voltage_v == pytest.approx(p.pack_voltage_v, abs=0.005)
    assert r.current_a == pytest.approx(60.0) and r.soc == pytest.approx(bms.soc_estimate, abs=5e-5)
    assert r.cell_v_min_v == pytest.approx(p.v_w, abs=5e-5) and r.cell_v_max_v == pytest.approx(p.v_t, abs=5e-5)
    assert r.allowed_discharge_a == pytest.approx(bms.allowed_discharge_a, abs=0.05)
    assert r.allowed_charge_a == pytest.approx(bms.allowed_charge_a, abs=0.05)
    assert r.temp_max_c == pytest.approx(p.temp_c, abs=0.05) and r.contactor and r.fault_flags == 0
    assert r.cells_v == pytest.approx(bench.cell_voltages_v(), abs=5e-4) and len(r.cells_v) == SERIES


def test_can_over_slcan_pty_matches_jbd_and_daly(tmp_path):
    """The same emulated state through three protocols: python-can's slcan interface reads the CAN
    emulator's pty; values agree with what the UART protocols report, each to its resolution."""
    readings = {}
    for protocol in ("can", "jbd", "daly"):
        em = start_emulator(tmp_path, bms=protocol)
        try:
            drive(em.info["scpi"], -70.0, 1200)
            readings[protocol] = kei_reading(tmp_path, em, protocol)
        finally:
            em.stop()
    can_r, jbd_r, daly_r = readings["can"], readings["jbd"], readings["daly"]
    assert can_r.current_a == jbd_r.current_a == daly_r.current_a == pytest.approx(70.0)
    assert can_r.pack_voltage_v == pytest.approx(jbd_r.pack_voltage_v, abs=0.01)
    assert can_r.pack_voltage_v == pytest.approx(daly_r.pack_voltage_v, abs=0.1)
    assert can_r.soc == pytest.approx(jbd_r.soc, abs=2e-4) and can_r.soc == pytest.approx(daly_r.soc, abs=1e-3)
    assert can_r.cell_v_min_v == pytest.approx(jbd_r.cell_v_min_v, abs=1e-3)
    assert can_r.allowed_discharge_a > 0 and jbd_r.allowed_discharge_a is None  # only CAN reports limits


def test_protections_decode_the_same_in_every_client(tmp_path):
    """Drive the emulated pack below its under-voltage limit: the BMS latches and opens its FETs;
    bmstools sees cuvp, dalybms the cell-low alarm, kei's clients UNDERVOLTAGE and an open contactor."""
    from bmstools.jbd import JBD
    from dalybms import DalyBMS

    seen = {}
    for protocol in ("jbd", "daly", "can"):
        em = start_emulator(tmp_path, bms=protocol)
        try:
            # 1.7 x the pack's charge at ~9.4 A a cell (150 A on 16 parallel 4.8 Ah cells): the cells empty
            # before they overheat, and the BMS trips on under-voltage
            amps = TRIP_CELL_A * design_pack()[0].parallel
            drive(em.info["scpi"], -amps, 1.7 * PACK_AH / amps * 3600.0)
            seen[protocol] = kei_reading(tmp_path, em, protocol)
            if protocol == "jbd":
                basic = JBD(serial.Serial(em.info["bms"]), timeout=1).readBasicInfo()
                assert basic["cuvp_err"] and not basic["dsg_fet_en"]
            elif protocol == "daly":
                daly = DalyBMS(request_retries=1, address=4)
                daly.connect(em.info["bms"])
                assert daly.get_errors() and not daly.get_mosfet_status()["discharging_mosfet"]
                daly.disconnect()
        finally:
            em.stop()
    for protocol, r in seen.items():
        assert not r.contactor and r.fault_flags & 1, (protocol, r)  # FaultFlag.UNDERVOLTAGE
        assert r.current_a == 0.0 and r.cell_v_min_v < 3.0  # at rest after the trip: recovered above 2.5 V
