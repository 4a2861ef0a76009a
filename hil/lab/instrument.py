"""The source/load interface the lab session drives, and its backends registered by name (one per
command table in scpi_models.py; python-can's `interfaces/` is the model).

Every backend speaks in battery terms: `set_current(a)` with a positive on discharge, `measure()`
-> (terminal voltage V, battery current A, discharge positive). Low-level errors (PyVISA, sockets)
become `InstrumentError` naming the resource, so the safety layer sees one kind of failure.
"""
from __future__ import annotations

import math

from kei.hil.errors import InstrumentError
from kei.hil.lab.scpi_models import SCPI_MODELS, ScpiModel


class Instrument:
    """What the lab session needs from a programmable source/load."""

    resource: str
    model: ScpiModel
    can_source: bool

    def open(self) -> str:
        """Connect; returns the identification string."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def configure(self) -> None:
        """Constant-current mode, level 0, output off; refuses a table the instrument does not understand."""
        raise NotImplementedError

    def set_current(self, battery_a: float) -> None:
        raise NotImplementedError

    def output(self, on: bool) -> None:
        raise NotImplementedError

    def output_is_on(self) -> bool:
        raise NotImplementedError

    def measure(self) -> tuple[float, float]:
        raise NotImplementedError

    def errors(self) -> list[str]:
        """Drain the instrument's error queue."""
        raise NotImplementedError

    def advance(self, dt_s: float) -> None:
        """Host clock only (the emulator): let dt_s of emulated time pass."""
        raise NotImplementedError


class ScpiInstrument(Instrument):
    """A SCPI source/load through PyVISA (pyvisa-py: TCPIP::HOST::5025::SOCKET, ASRL/dev/ttyUSB0::INSTR)."""

    MAX_ERRORS = 20  # an error queue holds 10-20 entries on real instruments

    def __init__(self, model: ScpiModel, resource: str, *, visa_library: str = "@py", timeout_s: float = 2.0,
                 can_source: bool | None = None):
        self.model = model
        self.resource = resource
        self.visa_library = visa_library
        self.timeout_s = timeout_s
        self.can_source = model.can_source if can_source is None else can_source and model.can_source
        self._rm = None
        self._res = None

    def _fail(self, what: str, err: Exception) -> InstrumentError:
        return InstrumentError(f"{self.resource}: {what}: {type(err).__name__}: {err}")

    def open(self) -> str:
        import pyvisa

        try:
            self._rm = pyvisa.ResourceManager(self.visa_library)
            self._res = self._rm.open_resource(self.resource, read_termination="\n", write_termination="\n",
                                               timeout=round(self.timeout_s * 1000))
        except (pyvisa.errors.Error, OSError, ValueError) as err:
            self._res = None
            raise self._fail("cannot open", err) from err
        if "::SOCKET" in self.resource.upper():
            self._no_delay(pyvisa)
        idn = self.query("*IDN?")
        if not self.model.matches(idn):
            raise InstrumentError(f"{self.resource}: *IDN? answered {idn!r}, which is not a {self.model.description} "
                                  f"(instrument.model = {self.model.name!r})")
        return idn

    def _no_delay(self, pyvisa) -> None:
        """Small writes (setpoint, then a query) must not wait for Nagle's algorithm: without
        TCP_NODELAY each write-write-read costs a 40 ms delayed ACK. VI_ATTR_TCPIP_NODELAY is the
        VISA way; pyvisa-py 0.8 wires its setter to one that raises, so the socket is set directly."""
        import socket

        try:
            self._res.set_visa_attribute(pyvisa.constants.VI_ATTR_TCPIP_KEEPALIVE, True)
            self._res.set_visa_attribute(pyvisa.constants.VI_ATTR_TCPIP_NODELAY, True)
        except Exception:  # noqa: BLE001 - any backend refusal: fall back to the socket
            sock = getattr(getattr(self._res.visalib, "sessions", {}).get(self._res.session), "interface", None)
            if isinstance(sock, socket.socket):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        res, self._res = self._res, None
        for thing in (res, self._rm):
            if thing is not None:
                try:
                    thing.close()
                except Exception:  # closing a dead link must never hide why it died
                    pass
        self._rm = None

    def write(self, text: str) -> None:
        import pyvisa

        if self._res is None:
            raise InstrumentError(f"{self.resource}: not connected")
        try:
            self._res.write(text)
        except (pyvisa.errors.Error, OSError, ValueError) as err:
            raise self._fail(f"write {text!r}", err) from err

    def query(self, text: str) -> str:
        import pyvisa

        if self._res is None:
            raise InstrumentError(f"{self.resource}: not connected")
        try:
            return self._res.query(text).strip()
        except (pyvisa.errors.Error, OSError, ValueError) as err:
            raise self._fail(f"query {text!r}", err) from err

    def configure(self) -> None:
        m = self.model
        self.write(m.output_off)  # first, whatever the instrument was doing
        errors = self.errors()
        for cmd in (*m.setup, m.level(0.0)):
            self.write(cmd)
        errors += self.errors()
        if errors:
            raise InstrumentError(f"{self.resource}: refused the {m.name} command table: {'; '.join(errors)}")

    def set_current(self, battery_a: float) -> None:
        self.write(self.model.level(battery_a))

    def output(self, on: bool) -> None:
        self.write(self.model.output_on if on else self.model.output_off)

    def output_is_on(self) -> bool:
        answer = self.query(self.model.output_query).upper()
        if answer not in ("1", "0", "ON", "OFF"):
            raise InstrumentError(f"{self.resource}: {self.model.output_query} answered {answer!r}")
        return answer in ("1", "ON")

    def measure(self) -> tuple[float, float]:
        answer = self.query(self.model.measure)
        try:
            v, i = (float(x) for x in answer.split(";"))
        except ValueError:
            raise InstrumentError(f"{self.resource}: {self.model.measure} answered {answer!r}, expected 'V;I'") from None
        if not (math.isfinite(v) and math.isfinite(i)):
            raise InstrumentError(f"{self.resource}: measured {answer!r}")
        return v, self.model.sign * i

    def errors(self) -> list[str]:
        out = []
        for _ in range(self.MAX_ERRORS):
            e = self.query(self.model.error_query)
            if e.startswith(("0,", "+0,")):
                break
            out.append(e)
        return out

    def advance(self, dt_s: float) -> None:
        self.write(f":SYST:CLOC:ADV {dt_s!r}")


def open_instrument(settings, resource: str | None = None) -> ScpiInstrument:
    """The backend for `settings.model` (hil/lab/config.py InstrumentSettings), not yet connected."""
    model = SCPI_MODELS[settings.model]
    return ScpiInstrument(model, resource or settings.resource, visa_library=settings.visa_library,
                          timeout_s=settings.timeout_s, can_source=settings.can_source)
