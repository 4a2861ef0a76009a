"""Per-model SCPI command tables of the source/loads kei drives (docs/lab.md, "Instruments").

A table says how to put the instrument in constant current, how to set a battery current, switch
the output, read back V and I, and what the instrument is rated for. Adding a model is adding a
`ScpiModel` here (python-can's per-interface modules are the model for the registry). Sign: kei's
battery current is positive on discharge; `sign` turns it into the instrument's level (a load sinks
a positive level; a two-quadrant supply's output current is negative while it sinks).

Sources: generic = SCPI-99 vol. 2 (OUTPut, [SOURce:]CURRent, MEASure), the two-quadrant convention
of regenerative supplies (e.g. ITECH IT6000C, EA PSB: negative current = sink); Siglent SDL1000X
programming guide (2019, [:SOURce]:INPut[:STATe], [:SOURce]:CURRent:IRANGe, MEASure:VOLTage[:DC]?;
ratings of the SDL1020X-E: 150 V, 30 A, 200 W); Rigol DL3000 programming guide (2016, the same tree,
[:SOURce]:CURRent:RANGe; DL3021: 150 V, 40 A, 200 W); ../shared/notes/hil-references.md.
"""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ScpiModel:
    name: str
    description: str
    idn: str                      # regex the *IDN? answer must match (manufacturer,model)
    setup: tuple[str, ...]        # after output off: constant-current mode, ranges (no *RST: it would drop a safe state)
    set_level: str                # format with {level}
    sign: float                   # level = sign x battery current (discharge > 0)
    output_on: str
    output_off: str
    output_query: str             # answers 1 / 0 (or ON / OFF)
    measure: str                  # one query answering "V;I" (SCPI compound)
    error_query: str
    can_source: bool              # can push current into the battery (regen)
    max_voltage_v: float
    max_current_a: float          # each way where it can source
    max_power_w: float

    def level(self, battery_a: float) -> str:
        return self.set_level.format(level=self.sign * battery_a + 0.0)

    def matches(self, idn: str) -> bool:
        return re.search(self.idn, idn, re.IGNORECASE) is not None


SCPI_MODELS: dict[str, ScpiModel] = {}


def register_model(model: ScpiModel) -> None:
    SCPI_MODELS[model.name] = model


register_model(ScpiModel(
    "generic", "SCPI-99 two-quadrant source/load (battery tester, regenerative supply)", r".",
    setup=(":SOUR:FUNC CURR",), set_level=":SOUR:CURR:LEV:IMM {level:.6f}", sign=-1.0,
    output_on=":OUTP:STAT ON", output_off=":OUTP:STAT OFF", output_query=":OUTP:STAT?",
    measure=":MEAS:VOLT?;:MEAS:CURR?", error_query=":SYST:ERR?", can_source=True,
    # estimate: a 500 V / 300 A bidirectional cycler, enough for a kei pack (~335 V, ~300 A pulses)
    max_voltage_v=500.0, max_current_a=300.0, max_power_w=150_000.0))
register_model(ScpiModel(
    "sdl1000x", "Siglent SDL1000X electronic load (sink only)", r"siglent.*sdl10",
    setup=(":SOUR:FUNC CURR", ":SOUR:CURR:IRANG 30"), set_level=":SOUR:CURR:LEV:IMM {level:.4f}", sign=1.0,
    output_on=":SOUR:INP:STAT ON", output_off=":SOUR:INP:STAT OFF", output_query=":SOUR:INP:STAT?",
    measure=":MEAS:VOLT:DC?;:MEAS:CURR:DC?", error_query=":SYST:ERR?", can_source=False,
    max_voltage_v=150.0, max_current_a=30.0, max_power_w=200.0))
register_model(ScpiModel(
    "dl3000", "Rigol DL3000 electronic load (sink only)", r"rigol.*dl30",
    setup=(":SOUR:FUNC CURR", ":SOUR:CURR:RANG 40"), set_level=":SOUR:CURR:LEV:IMM {level:.4f}", sign=1.0,
    output_on=":SOUR:INP:STAT ON", output_off=":SOUR:INP:STAT OFF", output_query=":SOUR:INP:STAT?",
    measure=":MEAS:VOLT?;:MEAS:CURR?", error_query=":SYST:ERR?", can_source=False,
    max_voltage_v=150.0, max_current_a=40.0, max_power_w=200.0))
