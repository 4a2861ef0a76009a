"""The guard: a small process that switches the instrument's output off if the lab host dies (SIGKILL,
a crash, the terminal closed) before it could do so itself.

    python3 -m kei.hil.lab.guard --host-pid PID --model NAME --resource VISA [--visa-library L]
        [--timeout-s S] [--poll-s S] [--log DIR]

The lab session starts it in its own session (so a signal to the host's process group spares it)
and stops it with SIGTERM once the output is safely off. While the host lives it only watches;
when the host is gone it opens the instrument (the host's connection died with it) and sends the
model's output-off command until the output reads back off, then appends a `guard_safe_state`
event to the log's events.jsonl (the host is dead: nobody else writes there).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

from kei.hil.errors import InstrumentError
from kei.hil.lab.instrument import ScpiInstrument
from kei.hil.lab.scpi_models import SCPI_MODELS

GIVE_UP_S = 60.0     # keep trying to reach the instrument this long after the host died
RETRY_S = 0.25


def host_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def switch_off(args) -> tuple[bool, str]:
    inst = ScpiInstrument(SCPI_MODELS[args.model], args.resource, visa_library=args.visa_library, timeout_s=args.timeout_s)
    deadline = time.monotonic() + GIVE_UP_S
    error = ""
    while time.monotonic() < deadline:
        try:
            inst.open()
            inst.output(False)
            inst.set_current(0.0)
            if not inst.output_is_on():
                return True, ""
            error = "output still reads ON"
        except InstrumentError as err:
            error = str(err)
        finally:
            inst.close()
        time.sleep(RETRY_S)
    return False, error


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m kei.hil.lab.guard")
    p.add_argument("--host-pid", type=int, required=True)
    p.add_argument("--model", choices=list(SCPI_MODELS), required=True)
    p.add_argument("--resource", required=True)
    p.add_argument("--visa-library", default="@py")
    p.add_argument("--timeout-s", type=float, default=2.0)
    p.add_argument("--poll-s", type=float, default=0.05)
    p.add_argument("--log", type=Path)
    args = p.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))  # the host is done: the output is off
    signal.signal(signal.SIGINT, signal.SIG_IGN)            # a Ctrl-C is the host's to handle
    while host_alive(args.host_pid):
        time.sleep(args.poll_s)
    died = time.time()
    ok, error = switch_off(args)
    if args.log is not None and (args.log / "events.jsonl").exists():
        record = {"t": round(time.time(), 3), "event": "guard_safe_state" if ok else "guard_safe_state_failed",
                  "host_pid": args.host_pid, "host_gone_s": round(died, 3), "output": "off" if ok else "unknown"}
        if error:
            record["error"] = error
        with open(args.log / "events.jsonl", "a") as fh:
            fh.write(json.dumps(record) + "\n")
    print(f"kei lab guard: host {args.host_pid} gone; output {'off' if ok else 'NOT CONFIRMED OFF: ' + error}",
          file=sys.stderr)
    return 0 if ok else 5


if __name__ == "__main__":
    sys.exit(main())
