"""The link over real ptys and a real TCP socket, and device processes started by name."""
import os
import socket
import threading
import time
import tty

import pytest

from kei.errors import UsageError
from kei.hil.errors import LinkError, LinkLost, LinkTimeout
from kei.hil.link.devices import adopt_emulator, device_command, start_emulator
from kei.hil.link.transport import list_ports, open_link
from kei.hil.wire.framing import FrameDecoder
from kei.hil.wire.protocol import Hello, HelloAck, decode


@pytest.fixture
def pty_pair():
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    path = os.ttyname(slave)
    yield master, path
    for fd in (master, slave):
        try:
            os.close(fd)
        except OSError:
            pass


def test_reads_what_arrived_and_times_out(pty_pair):
    master, path = pty_pair
    with open_link(path) as link:
        os.write(master, b"abc")
        assert link.read(1.0) == b"abc"
        start = time.monotonic()
        assert link.read(0.2) == b""
        assert 0.18 < time.monotonic() - start < 1.0
        link.write(b"xyz")
        assert os.read(master, 10) == b"xyz"


def test_read_exact_by_length_across_chunks(pty_pair):
    master, path = pty_pair
    with open_link(path) as link:
        threading.Timer(0.05, os.write, (master, b"6789")).start()
        os.write(master, b"012345")
        assert link.read_exact(10, 2.0) == b"0123456789"
        os.write(master, b"12")
        with pytest.raises(LinkTimeout, match=rf"{path}: 2 of 5 bytes"):
            link.read_exact(5, 0.2)


def test_port_is_exclusive_and_errors_name_it(pty_pair):
    _, path = pty_pair
    with open_link(path):
        with pytest.raises(LinkError, match=f"{path}: cannot open"):
            open_link(path)
    with pytest.raises(LinkError, match="/dev/no-such-port: cannot open"):
        open_link("/dev/no-such-port")


def test_a_vanished_far_end_is_a_lost_link(pty_pair):
    master, path = pty_pair
    link = open_link(path)
    os.close(master)  # the device side goes away: a pulled cable
    with pytest.raises(LinkLost, match=path):
        link.read(0.5)
    with pytest.raises(LinkLost, match=path):
        link.write(b"x" * 10)
    link.close()


def test_socket_url():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]

    def echo():
        conn, _ = server.accept()
        with conn:
            while data := conn.recv(100):
                conn.sendall(data.upper())

    threading.Thread(target=echo, daemon=True).start()
    with open_link(f"socket://127.0.0.1:{port}") as link:
        link.write(b"hello")
        assert link.read_exact(5, 2.0) == b"HELLO"
    server.close()


def test_list_ports_gives_plain_rows():
    for row in list_ports():
        assert set(row) == {"device", "description", "hwid", "manufacturer", "serial_number"}


def test_python_emulator_process_by_name(tmp_path):
    dev = start_emulator("python", idle_exit_s=30, start_timeout_s=20, stderr_path=tmp_path / "dev.log")
    try:
        assert dev.alive() and os.path.exists(dev.port)
        assert adopt_emulator("python", dev.pid, dev.port).pid == dev.pid  # what a resume finds
        assert adopt_emulator("firmware", dev.pid, dev.port) is None      # not the process it claims to be
        with open_link(dev.port) as link:
            link.write(b"\x00" + Hello(5).frame())
            decoder, got = FrameDecoder(), []
            deadline = time.monotonic() + 5
            while not got and time.monotonic() < deadline:
                got = decoder.feed(link.read(0.5))
            assert isinstance(decode(got[0]), HelloAck)
    finally:
        dev.stop(5)
    assert not dev.alive() and adopt_emulator("python", dev.pid, dev.port) is None


def test_idle_emulator_exits_by_itself():
    dev = start_emulator("python", idle_exit_s=0.5, start_timeout_s=20)
    deadline = time.monotonic() + 10
    while dev.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not dev.alive()
    dev.stop(1)


def test_unknown_emulator_is_named():
    with pytest.raises(UsageError, match="unknown emulator 'matlab'"):
        device_command("matlab")
