"""`kei hil ports`: the serial ports this machine has (where to plug the BMS)."""
from __future__ import annotations

from kei.hil.link.transport import list_ports
from kei.output import print_json


def register(sub) -> None:
    p = sub.add_parser("ports", help="list serial ports (USB adapters, on-board UARTs)")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=run_ports)


def run_ports(args) -> int:
    ports = list_ports()
    if args.json:
        print_json(ports)
        return 0
    if not ports:
        print("no serial ports found. A USB-serial adapter appears as /dev/ttyUSB* or /dev/ttyACM* once plugged "
              "in (check `dmesg` and that you are in the dialout group); a bench over TCP is reached with "
              "--port socket://HOST:PORT; the emulated BMS needs no port (--emulator python).")
        return 0
    width = max(len(p["device"]) for p in ports)
    for p in ports:
        extra = "  ".join(x for x in (p["manufacturer"], p["serial_number"] and f"s/n {p['serial_number']}",
                                      p["hwid"] if p["hwid"] != "n/a" else "") if x)
        print(f"{p['device']:<{width}}  {p['description']}" + (f"  ({extra})" if extra else ""))
    return 0
