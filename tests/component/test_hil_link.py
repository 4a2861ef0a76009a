"""The link over real ptys and a real TCP socket, and device processes started by name."""
import os
import re
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


class Rfc2217Server:
    """pyserial's own RFC 2217 server (serial.rfc2217.PortManager, wired as in pyserial's
    examples/rfc2217_server.py) in front of a real serial port: the emulator's pty."""

    def __init__(self, serial_path: str):
        import serial
        import serial.rfc2217

        class PtyPort(serial.Serial):
            """A pty has no modem lines (their ioctls fail): inputs read low, outputs go nowhere,
            as on a three-wire cable."""
            cts = dsr = ri = cd = property(lambda self: False)

            def _update_rts_state(self):
                pass

            def _update_dtr_state(self):
                pass

        self.serial = PtyPort(serial_path, timeout=0.05)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.url = f"rfc2217://127.0.0.1:{self.listener.getsockname()[1]}"
        self.alive = True
        self.manager_class = serial.rfc2217.PortManager
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        client, _ = self.listener.accept()
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        class Connection:
            def write(self, data):
                client.sendall(data)

        manager = self.manager_class(self.serial, Connection())

        def device_to_client():
            while self.alive:
                data = self.serial.read(self.serial.in_waiting or 1)
                if data:
                    client.sendall(b"".join(manager.escape(data)))

        threading.Thread(target=device_to_client, daemon=True).start()
        while self.alive:
            data = client.recv(4096)
            if not data:
                break
            self.serial.write(b"".join(manager.filter(data)))
        self.alive = False
        client.close()

    def close(self):
        self.alive = False
        self.listener.close()


@pytest.fixture
def rfc2217_device(tmp_path):
    dev = start_emulator("python", idle_exit_s=60, start_timeout_s=20, stderr_path=tmp_path / "dev.log")
    server = Rfc2217Server(dev.port)
    yield server
    server.close()
    dev.stop(5)


def test_rfc2217_url_against_a_real_rfc2217_server(rfc2217_device):
    """pyserial's RFC 2217 client does not support a write timeout: the link must not pass one."""
    with open_link(rfc2217_device.url) as link:
        link.write(b"\x00" + Hello(5).frame())
        decoder, got = FrameDecoder(), []
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            got = decoder.feed(link.read(0.5))
        assert got and isinstance(decode(got[0]), HelloAck)


def test_a_session_over_rfc2217(rfc2217_device, tmp_path):
    import json
    import subprocess
    import sys

    from conftest import ROOT

    out = subprocess.run([sys.executable, "-m", "kei", "hil", "run", "sakura_pack", "--cycle", "udds", "--port",
                          rfc2217_device.url, "--pace", "max", "--max-steps", "300", "--log", str(tmp_path / "r"),
                          "--json"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["steps"] == 300 and result["cutoff_reason"] == "step_limit"


@pytest.mark.parametrize("url, why", [("socket://localhost", "no port"), ("socket://localhost:99999", "out of range"),
                                      ("rfc2217://:4000", "no host"), ("socket://host:port", "Port could not")])
def test_a_network_url_without_host_or_port_is_named(url, why):
    with pytest.raises(UsageError, match=rf"--port: {re.escape(url)}: .*{why}.*expected (socket|rfc2217)://HOST:PORT"):
        open_link(url)
