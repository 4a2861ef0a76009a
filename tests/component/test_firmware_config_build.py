"""A boot configuration generated from a design and compiled into the stub boots it configured, in
exactly the state the Python emulator reaches from the same OCV_TABLE + CONFIGURE messages."""
from __future__ import annotations

import math

from firmware_support import DeviceProcess, build_all

from kei.hil.emulator.device import Device
from kei.hil.firmware.build import BUILD_DIR, make
from kei.hil.firmware.header import pack_config_header
from kei.hil.setup.bms_config import load_bms_config
from kei.hil.setup.pack_setup import pack_setup
from kei.hil.wire import protocol as P
from kei.hil.wire.framing import FrameDecoder
from kei.vehicle.files import load_vehicle


def test_generated_config_boots_like_the_messages(tmp_path, sakura_path):
    build_all()
    setup = pack_setup(load_vehicle(sakura_path), load_bms_config())  # no [battery.cell]: the generic cell
    header = tmp_path / "pack_config.h"
    header.write_text(pack_config_header(setup, design_file=str(sakura_path), bms_file="configs/bms.toml"))
    build = BUILD_DIR / "config-test"  # its own build directory: the default build keeps its boot config
    make("all", pack_config=header, variables={"BUILD": str(build)})

    device, decoder = Device(device_id=1), FrameDecoder()
    for msg in setup.messages:
        decoder.feed(device.feed(msg.frame()))
    (want,) = [P.decode(b) for b in decoder.feed(device.feed(P.Status(seq=1).frame()))]

    with DeviceProcess([str(build / "kei_bms_host")]) as dev:
        hello = dev.request(P.Hello(seq=1))
        assert hello.configured == 1
        got = dev.request(P.Status(seq=1))
        assert dev.stop() == 0
    assert isinstance(got, P.Telemetry)
    assert got.pack_voltage_v > 100  # a real pack, not zeros
    for name, value in vars(want).items():  # binary32 arithmetic in C: the derating divides a difference
        assert math.isclose(getattr(got, name), value, rel_tol=1e-5, abs_tol=1e-6), name
