"""An emulated SCPI programmable source/load on a `LabBench` (docs/lab.md, "Emulated instruments").

One parser (IEEE 488.2 / SCPI-99 rules: mnemonics in short or long form, case-insensitive, optional
nodes in brackets, `;` between commands with the path kept, `*` common commands, an error queue
read with `SYSTem:ERRor?`) and one command tree per *personality*, so a command table that sends the
wrong dialect gets `-113,"Undefined header"` as the real instrument would answer:

- `generic`: a two-quadrant (bidirectional) source/load in SCPI-99 terms: `OUTPut[:STATe]`,
  `[SOURce:]CURRent[:LEVel][:IMMediate][:AMPLitude]` as the signed output current (positive sources,
  i.e. charges the battery; negative sinks), `MEASure[:SCALar]:VOLTage|CURRent[:DC]?`;
- `sdl1000x`: Siglent SDL1000X electronic load (sink only): `[:SOURce]:INPut[:STATe]`,
  `[:SOURce]:FUNCtion`, `[:SOURce]:CURRent[:LEVel][:IMMediate]`, `[:SOURce]:CURRent:IRANGe`;
- `dl3000`: Rigol DL3000 electronic load (sink only): the same tree with `[:SOURce]:CURRent:RANGe`.

Every personality also has `SYSTem:CLOCk:ADVance <s>` and `SYSTem:CLOCk?`, which exist on no real
instrument: the host clock of lab_bench.py. Pure: text in, text out.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from kei.hil.emulator.lab_bench import LabBench

NO_ERROR = '0,"No error"'
UNDEFINED_HEADER = '-113,"Undefined header"'
DATA_OUT_OF_RANGE = '-222,"Data out of range"'
ILLEGAL_PARAMETER = '-224,"Illegal parameter value"'
MISSING_PARAMETER = '-109,"Missing parameter"'
SETTINGS_CONFLICT = '-221,"Settings conflict"'
QUEUE_OVERFLOW = '-350,"Queue overflow"'
ERROR_QUEUE = 20


def _node_regex(node: str) -> str:
    short = "".join(c for c in node if c.isupper() or c.isdigit() or c == "*")
    return f"(?:{re.escape(node.upper())}|{re.escape(short)})" if short != node.upper() else re.escape(node.upper())


def header_regex(pattern: str) -> re.Pattern:
    """`[:SOURce]:CURRent[:LEVel]` -> a regex over ':' + an upper-cased header (no '?')."""
    out = ""
    for optional, node in re.findall(r"(\[?):?([A-Za-z0-9*]+)\]?", pattern):
        body = ":" + _node_regex(node)
        out += f"(?:{body})?" if optional else body
    return re.compile(out + "$")


@dataclass(frozen=True)
class Personality:
    name: str
    idn: str
    max_voltage_v: float
    max_sink_a: float
    max_source_a: float      # 0: sink only
    output: str              # the output/input on-off node
    extra: tuple = ()        # (pattern, handler) beyond the common tree
    range_node: str | None = None


PERSONALITIES = {
    p.name: p for p in (
        Personality("generic", "KEI,SL500-2Q (emulated bidirectional source/load),0,1.0", 500.0, 300.0, 300.0,
                    "OUTPut[:STATe]"),
        Personality("sdl1000x", "Siglent Technologies,SDL1020X-E,SDL00000000000 (emulated),1.01.01.23", 150.0, 30.0,
                    0.0, "[:SOURce]:INPut[:STATe]", range_node="[:SOURce]:CURRent:IRANGe"),
        Personality("dl3000", "RIGOL TECHNOLOGIES,DL3021,DL3A000000000 (emulated),00.01.02.00.01", 150.0, 40.0, 0.0,
                    "[:SOURce]:INPut[:STATe]", range_node="[:SOURce]:CURRent:RANGe"),
    )
}


def _bool(text: str) -> bool | None:
    t = text.strip().upper()
    return True if t in ("ON", "1") else False if t in ("OFF", "0") else None


def _number(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None


@dataclass
class ScpiInstrument:
    """`handle(line) -> reply or None` for one program message (a line without its newline)."""

    bench: LabBench
    personality: Personality
    errors: list = field(default_factory=list)
    counters: dict = field(default_factory=lambda: {"commands": 0, "errors": 0})

    def __post_init__(self):
        p = self.personality
        self.sources = p.max_source_a > 0
        tree = [
            ("*IDN?", self._idn), ("*RST", self._rst), ("*CLS", self._cls), ("*OPC?", lambda a: "1"),
            ("*OPC", lambda a: None), ("SYSTem:ERRor[:NEXT]?", self._err),
            ("SYSTem:CLOCk:ADVance", self._advance), ("SYSTem:CLOCk?", lambda a: f"{self.bench.time_s!r}"),
            (p.output, self._output), (p.output + "?", lambda a: "1" if self.bench.output_on else "0"),
        ]
        if self.sources:
            tree += [("[:SOURce]:FUNCtion", self._function), ("[:SOURce]:FUNCtion?", lambda a: "CURR"),
                     ("[:SOURce]:CURRent[:LEVel][:IMMediate][:AMPLitude]", self._current),
                     ("[:SOURce]:CURRent[:LEVel][:IMMediate][:AMPLitude]?", self._current_query),
                     ("MEASure[:SCALar]:VOLTage[:DC]?", self._meas_v), ("MEASure[:SCALar]:CURRent[:DC]?", self._meas_i)]
        else:
            tree += [("[:SOURce]:FUNCtion", self._function), ("[:SOURce]:FUNCtion?", lambda a: "CURRENT"),
                     ("[:SOURce]:CURRent[:LEVel][:IMMediate]", self._current),
                     ("[:SOURce]:CURRent[:LEVel][:IMMediate]?", self._current_query),
                     ("MEASure:VOLTage[:DC]?", self._meas_v), ("MEASure:CURRent[:DC]?", self._meas_i),
                     (p.range_node, self._range), (p.range_node + "?", lambda a: f"{p.max_sink_a:g}")]
        self._tree = [(header_regex(pat.rstrip("?")), pat.endswith("?"), fn) for pat, fn in tree]

    # ---- parsing ------------------------------------------------------------------------------
    def handle(self, line: str) -> str | None:
        replies = []
        path = ""
        for unit in line.strip().split(";"):
            unit = unit.strip()
            if not unit:
                continue
            head, _, args = unit.partition(" ")
            if head.startswith(":"):
                head, path = head[1:], ""
            elif not head.startswith("*") and path:
                head = f"{path}:{head}"
            if not head.startswith("*"):
                path = head.rsplit(":", 1)[0] if ":" in head else ""
            self.counters["commands"] += 1
            reply = self._dispatch(head, args.strip())
            if reply is not None:
                replies.append(reply)
        return ";".join(replies) if replies else None

    def _dispatch(self, head: str, args: str) -> str | None:
        query = head.endswith("?")
        name = head.rstrip("?").upper()
        for regex, is_query, fn in self._tree:
            if is_query == query and regex.match(":" + name):
                self.bench.sync()
                return fn(args)
        self._error(UNDEFINED_HEADER)
        return None

    def _error(self, text: str) -> None:
        self.counters["errors"] += 1
        if len(self.errors) < ERROR_QUEUE:
            self.errors.append(text)
        else:
            self.errors[-1] = QUEUE_OVERFLOW

    # ---- commands -----------------------------------------------------------------------------
    def _idn(self, args):
        return self.personality.idn

    def _rst(self, args):
        self.bench.set_output(False)
        self.bench.set_current(0.0)

    def _cls(self, args):
        self.errors.clear()

    def _err(self, args):
        return self.errors.pop(0) if self.errors else NO_ERROR

    def _advance(self, args):
        dt = _number(args)
        if dt is None:
            return self._error(MISSING_PARAMETER if not args else ILLEGAL_PARAMETER)
        if self.bench.clock != "host":
            return self._error(SETTINGS_CONFLICT)
        if not 0.0 <= dt <= 3600.0:
            return self._error(DATA_OUT_OF_RANGE)
        self.bench.advance(dt)

    def _output(self, args):
        on = _bool(args)
        if on is None:
            return self._error(ILLEGAL_PARAMETER)
        self.bench.set_output(on)

    def _function(self, args):
        if args.strip().upper() not in ("CURR", "CURRENT"):
            self._error(ILLEGAL_PARAMETER)  # only constant current is emulated

    def _range(self, args):
        value = _number(args)
        if value is None or not 0 < value <= self.personality.max_sink_a:
            self._error(DATA_OUT_OF_RANGE)

    def _current(self, args):
        """The level in the personality's sign: loads sink >= 0; the generic one's output current
        (positive sources = charges the battery)."""
        value = _number(args)
        if value is None:
            return self._error(MISSING_PARAMETER if not args else ILLEGAL_PARAMETER)
        p = self.personality
        battery_a = -value if self.sources else value
        if not -p.max_source_a <= battery_a <= p.max_sink_a:
            return self._error(DATA_OUT_OF_RANGE)
        self.bench.set_current(battery_a)

    def _current_query(self, args):
        a = self.bench.setpoint_a
        return f"{(-a if self.sources else a)!r}"

    def _meas_v(self, args):
        return f"{self.bench.terminal_voltage_v()!r}"

    def _meas_i(self, args):
        a = self.bench.current_a()
        return f"{(-a if self.sources else a)!r}"
