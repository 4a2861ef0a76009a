"""--inject: the spec parser names bad parts; the fault layer damages a byte stream as specified,
reproducibly. Run over pyserial's in-memory loop:// port (the bytes come back as written)."""
import time

import pytest

from kei.hil.errors import FaultSpecError, LinkError, LinkLost
from kei.hil.link.faults import FaultyTransport, parse_fault_spec
from kei.hil.link.transport import open_link

N_BYTES = 50_000


def test_parse_full_spec():
    spec = parse_fault_spec("ber=1e-4,drop=1e-3,garbage=0.002:32,pause=3@1500,disconnect@4000,disconnect=2@9000,seed=9")
    assert (spec.ber, spec.drop, spec.garbage_rate, spec.garbage_max_bytes, spec.seed) == (1e-4, 1e-3, 0.002, 32, 9)
    assert spec.pauses == ((3.0, 1500),) and spec.disconnects == ((1.0, 4000), (2.0, 9000))
    assert not parse_fault_spec("").active


@pytest.mark.parametrize("spec, part", [
    ("ber=2", "ber=2"), ("drop=x", "drop=x"), ("garbage=0.1", "garbage=0.1"), ("garbage=0.1:0", "garbage=0.1:0"),
    ("pause=3", "pause=3"), ("pause=x@5", "pause=x@5"), ("disconnect@0", "disconnect@0"), ("bogus=1", "bogus=1"),
    ("ber=1e-4,seed=z", "seed=z"), ("ber", "ber"),
])
def test_parse_errors_name_the_bad_part(spec, part):
    with pytest.raises(FaultSpecError) as err:
        parse_fault_spec(spec)
    assert err.value.part == part and repr(part) in str(err.value)


def through(spec_text: str, data: bytes, chunk: int = 997) -> tuple[bytes, FaultyTransport]:
    layer = FaultyTransport(open_link("loop://"), parse_fault_spec(spec_text))
    out = bytearray()
    for i in range(0, len(data), chunk):
        layer.write(data[i:i + chunk])          # tx faults, then the loop brings it back ...
        out += layer.read(0.0, 1 << 20)         # ... through the rx faults
    return bytes(out), layer


def test_bit_error_rate_is_what_was_asked_and_reproducible():
    data = bytes(range(256)) * (N_BYTES // 256)
    out, layer = through("ber=4e-3,seed=4", data)
    flipped = sum(bin(a ^ b).count("1") for a, b in zip(out, data))
    expected = 2 * 8 * len(data) * 4e-3  # both directions
    # A bit hit on the way out and again on the way back is flipped back: an even difference.
    assert flipped <= layer.stats.bits_flipped and (layer.stats.bits_flipped - flipped) % 2 == 0
    assert abs(layer.stats.bits_flipped / expected - 1) < 0.1
    assert through("ber=4e-3,seed=4", data, chunk=4096)[0] == out  # chunking does not change the damage
    assert through("ber=4e-3,seed=5", data)[0] != out


def test_drops_and_garbage():
    data = b"\x11" * N_BYTES
    out, layer = through("drop=0.04,seed=2", data)
    assert len(out) == len(data) - layer.stats.bytes_dropped
    assert abs(layer.stats.bytes_dropped / (2 * 0.04 * N_BYTES) - 1) < 0.1
    out, layer = through("garbage=0.004:16,seed=2", data)
    assert len(out) == len(data) + layer.stats.garbage_bytes
    assert abs(layer.stats.garbage_bursts / (2 * 0.004 * N_BYTES) - 1) < 0.15
    assert layer.stats.garbage_bytes <= 16 * layer.stats.garbage_bursts


def test_pause_swallows_both_ways_then_the_line_is_back():
    layer = FaultyTransport(open_link("loop://"), parse_fault_spec("pause=0.3@2"))
    layer.write(b"a\x00")
    assert layer.read(0.05) == b"a\x00"
    layer.write(b"b\x00")                       # frame 2: the pause starts, this write is lost
    assert layer.read(0.05) == b""
    time.sleep(0.3)
    layer.write(b"c\x00")
    assert layer.read(0.05) == b"c\x00"
    assert layer.stats.pauses == 1 and layer.take_events() == ["pause 0.3 s after host frame 2"]


def test_disconnect_closes_the_port_until_the_delay_has_passed():
    layer = FaultyTransport(open_link("loop://"), parse_fault_spec("disconnect=0.3@1"))
    with pytest.raises(LinkLost):
        layer.write(b"x\x00")
    with pytest.raises(LinkLost):
        layer.read(0.01)
    with pytest.raises(LinkError, match="unplugged"):
        layer.reopen()
    time.sleep(0.3)
    layer.reopen()
    layer.write(b"y\x00")
    assert layer.read(0.05) == b"y\x00"
