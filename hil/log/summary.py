"""The result of a session, computed from its log alone (the same numbers for `kei hil run`,
`kei hil resume` and `kei hil report`). The rows are streamed, so a report on a long log needs a few
MB whatever its length.

A range is only reported where one was measured: the run ended because the pack was done
(`RANGE_REASONS`) on a trace the car can drive. Otherwise `measured_range_km` is None, `range_valid`
False and `range_invalid_reason` says why (the log ends early, `--max-steps`, the safety stop, a
trace the car cannot follow); `distance_km` is what was driven either way."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from kei.hil.log.session_log import SessionLog

# Link counters summed over the session's segments (a resumed session has several).
LINK_COUNTERS = ("frames_sent", "frames_retried", "frames_duplicated", "timeouts", "nacks", "stale_answers", "bad_messages",
                 "bad_telemetry", "reconnects", "device_restores", "crc_errors")
# End conditions that measure a range: the pack (or the BMS) was done.
RANGE_REASONS = ("bms_cutoff", "soc_floor", "derated")
# The energy model's verdict on the trace, from `kei.vehicle.predict(...).figures()` as the log's
# header keeps it: `valid_test` / `validity_reason` where the model gives them (issue 10), else the
# steps the car cannot follow.
TRACE_MISS_KEY = "trace_miss_steps"
VALID_KEY, VALIDITY_REASON_KEY = "valid_test", "validity_reason"


def _segments_stats(events: list[dict]) -> tuple[dict, dict, float]:
    """Sum of each segment's last link_stats; frame errors by kind; elapsed seconds (last value)."""
    totals = dict.fromkeys(LINK_COUNTERS, 0)
    errors: dict[str, int] = {}
    injected: dict[str, int] = {}
    last = None
    elapsed = 0.0

    def close(seg):
        if seg is None:
            return
        for k in LINK_COUNTERS:
            totals[k] += int(seg.get(k) or 0)
        for k, v in (seg.get("frame_errors") or {}).items():
            errors[k] = errors.get(k, 0) + int(v)
        for k, v in (seg.get("injected") or {}).items():
            injected[k] = injected.get(k, 0) + int(v)

    for ev in events:
        kind = ev.get("event")
        if kind in ("session_start", "resume"):
            close(last)
            last = None
        elif kind == "link_stats":
            last = ev
            elapsed = float(ev.get("elapsed_s") or elapsed)
    close(last)
    totals["frame_errors"] = errors
    return totals, injected, elapsed


class _StepTotals:
    """What the summary needs from the rows, accumulated chunk by chunk (row 0 is the state before
    the first step; "driven" rows are the others)."""

    def __init__(self):
        self.rows = 0
        self.first: dict | None = None
        self.last: dict | None = None
        self.soc_error_max = -math.inf
        self.pack_voltage_min = math.inf
        self.temperature_max = -math.inf
        self.limited = 0
        self.trace_m = 0.0
        self._prev_trace_speed = None

    def add(self, c: dict) -> None:
        n = len(c["step"])
        if not n:
            return
        if self.first is None:
            self.first = {k: float(v[0]) for k, v in c.items()}
        skip = 1 if self.rows == 0 else 0   # row 0 is not driven
        d = slice(skip, None)
        err = np.abs(c["soc_estimate"][d] - c["soc_true"][d])
        err = err[np.isfinite(err)]
        if len(err):
            self.soc_error_max = max(self.soc_error_max, float(err.max()))
        if n > skip:
            self.pack_voltage_min = min(self.pack_voltage_min, float(c["pack_voltage_v"][d].min()))
            self.limited += int(c["limited"][d].sum())
        self.temperature_max = max(self.temperature_max, float(c["temperature_c"].max()))
        v_end = c["trace_speed_mps"]
        prev = v_end[0] if self._prev_trace_speed is None else self._prev_trace_speed
        v_start = np.concatenate([[prev], v_end[:-1]])
        self.trace_m += float(np.sum((0.5 * (v_start + v_end) * c["dt_s"])[d]))
        self._prev_trace_speed = float(v_end[-1])
        self.last = {k: float(v[-1]) for k, v in c.items()}
        self.rows += n


def _predicted_steps(head: dict) -> int | None:
    """Steps the energy model expects to empty (for "the log ends at step N of ~M")."""
    pred, prof = head.get("predicted") or {}, head.get("profile") or {}
    km, per_km, per_cycle = pred.get("predicted_range_km"), prof.get("cycle_distance_km"), prof.get("steps_per_cycle")
    if km and per_km and per_cycle and math.isfinite(km) and per_km > 0:
        return int(round(km / per_km * per_cycle))
    return None


def range_validity(head: dict, end: dict | None, last_step: int, abort: dict | None = None) -> str | None:
    """Why the log holds no range measurement (None: it does); every reason that applies."""
    predicted = head.get("predicted") or {}
    reasons = []
    if end is None:
        expected = _predicted_steps(head)
        of = f" of ~{expected:,} predicted to empty" if expected else ""
        why = f"; it stopped with: {abort['error'].splitlines()[0]}" if abort and abort.get("error") else ""
        reasons.append(f"the log ends at step {max(last_step, 0):,}{of}, with no result{why}")
    elif end.get("reason") == "step_limit":
        reasons.append(f"stopped by --max-steps {head.get('max_steps')}: a smoke test, not a range measurement")
    elif end.get("reason") == "max_cycles":
        reasons.append("stopped by the max_cycles safety stop before the pack was done: not a range measurement")
    elif end.get("reason") not in RANGE_REASONS:
        reasons.append(f"ended by {end.get('reason')!r}, not by the pack")
    missed = int(predicted.get(TRACE_MISS_KEY) or 0)
    if predicted.get(VALID_KEY) is False:
        reasons.append(f"the energy model does not count this as a valid run of the cycle "
                       f"({predicted.get(VALIDITY_REASON_KEY) or 'no reason given'}): no range on this cycle")
    elif VALID_KEY not in predicted and missed:
        per_cycle = (head.get("profile") or {}).get("steps_per_cycle")
        reasons.append(f"the car cannot drive {missed} of the {per_cycle} steps of each cycle (a power, torque or "
                       "speed limit): the trace gives it distance it does not earn, so this is no range on this cycle")
    return "; ".join(reasons) or None


def summarize(log: SessionLog) -> dict:
    head = log.header
    totals = _StepTotals()
    for chunk in log.step_chunks():
        totals.add(chunk)
    last = totals.last
    predicted = head.get("predicted", {}) or {}
    end = next((e for e in reversed(log.events) if e.get("event") == "end"), None)
    abort = next((e for e in reversed(log.events) if e.get("event") in ("aborted", "resume", "session_start")), None)
    abort = abort if abort and abort.get("event") == "aborted" else None
    link, injected, elapsed = _segments_stats(log.events)
    steps_per_cycle = int(head.get("profile", {}).get("steps_per_cycle", 0)) or 1
    last_step = int(last["step"]) if last else -1
    distance_km = last["distance_m"] / 1000.0 if last else 0.0
    invalid = range_validity(head, end, last_step, abort)
    out: dict = {
        "design": head.get("design", {}).get("name"),
        "cycle": head.get("cycle") if head.get("cycle_source", "bundled") == "bundled"
        else Path(head["cycle_source"]).name,
        "measured_range_km": None if invalid else distance_km,
        "predicted_range_km": predicted.get("predicted_range_km"),
        "range_valid": invalid is None,
        "range_invalid_reason": invalid,
        "distance_km": distance_km,
        "cutoff_reason": end["reason"] if end else "unfinished",
        "cutoff_detail": end["detail"] if end else invalid.split("; the car cannot")[0] + " (resume it)",
        "steps": max(last_step, 0),
        "cycles": round(max(last_step, 0) / steps_per_cycle, 4),
        TRACE_MISS_KEY: int(predicted.get(TRACE_MISS_KEY) or 0),
        "elapsed_s": round(elapsed, 3),
    }
    if predicted.get("label_range_km") is not None:
        out["label_range_km"] = predicted["label_range_km"]
    pr = out["predicted_range_km"]
    out["range_difference_percent"] = (round(100.0 * (distance_km / pr - 1.0), 3)
                                       if invalid is None and pr and math.isfinite(pr) else None)
    out.update({k: link[k] for k in LINK_COUNTERS})
    out["frame_errors"] = link["frame_errors"]
    if injected:
        out["injected"] = injected
    if log.damage:
        out["log_damage"] = log.damage
    if totals.rows > 1:
        energy_wh = last["energy_out_wh"] - totals.first["energy_out_wh"]
        out.update({
            "soc_estimate_error_max": totals.soc_error_max if math.isfinite(totals.soc_error_max) else None,
            "energy_delivered_wh": energy_wh,
            "energy_wh_per_km": energy_wh / distance_km if distance_km > 0 else None,
            "soc_estimate_final": last["soc_estimate"],
            "soc_true_final": last["soc_true"] if math.isfinite(last["soc_true"]) else None,
            "soc_weak_true_final": last["soc_weak_true"] if math.isfinite(last["soc_weak_true"]) else None,
            "cell_v_min_final_v": last["cell_v_min_v"],
            "pack_voltage_min_v": totals.pack_voltage_min,
            "temperature_max_c": totals.temperature_max,
            "limited_steps": totals.limited,
            "trace_distance_km": totals.trace_m / 1000.0,
            "driving_time_s": last["time_s"],
            "steps_per_s": round(totals.rows / elapsed, 1) if elapsed > 0 else None,
        })
    else:
        out["soc_estimate_error_max"] = None
    return out
