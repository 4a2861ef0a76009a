"""The result of a session, computed from its log alone (the same numbers for `kei hil run`,
`kei hil resume` and `kei hil report`)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from kei.hil.log.session_log import SessionLog

# Link counters summed over the session's segments (a resumed session has several).
LINK_COUNTERS = ("frames_sent", "frames_retried", "frames_duplicated", "timeouts", "nacks", "stale_answers", "bad_messages",
                 "reconnects", "device_restores", "crc_errors")


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
            totals[k] += int(seg.get(k, 0))
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
            elapsed = float(ev.get("elapsed_s", elapsed))
    close(last)
    totals["frame_errors"] = errors
    return totals, injected, elapsed


def summarize(log: SessionLog) -> dict:
    c = log.columns
    head = log.header
    predicted = head.get("predicted", {})
    n = log.rows
    end = next((e for e in reversed(log.events) if e.get("event") == "end"), None)
    link, injected, elapsed = _segments_stats(log.events)
    steps_per_cycle = int(head.get("profile", {}).get("steps_per_cycle", 0)) or 1
    out: dict = {
        "design": head.get("design", {}).get("name"),
        "cycle": head.get("cycle") if head.get("cycle_source", "bundled") == "bundled"
        else Path(head["cycle_source"]).name,
        "measured_range_km": float(c["distance_m"][-1] / 1000.0) if n else 0.0,
        "predicted_range_km": predicted.get("predicted_range_km"),
        "cutoff_reason": end["reason"] if end else "unfinished",
        "cutoff_detail": end["detail"] if end else "the log ends before an end condition (resume it)",
        "steps": int(c["step"][-1]) if n else 0,
        "cycles": round(float(c["step"][-1]) / steps_per_cycle, 4) if n else 0.0,
        "elapsed_s": round(elapsed, 3),
    }
    if predicted.get("label_range_km") is not None:
        out["label_range_km"] = predicted["label_range_km"]
    pr = out["predicted_range_km"]
    out["range_difference_percent"] = (round(100.0 * (out["measured_range_km"] / pr - 1.0), 3)
                                       if pr and math.isfinite(pr) else None)
    out.update({k: link[k] for k in LINK_COUNTERS})
    out["frame_errors"] = link["frame_errors"]
    if injected:
        out["injected"] = injected
    if n > 1:
        driven = slice(1, None)
        err = np.abs(c["soc_estimate"][driven] - c["soc_true"][driven])
        err = err[np.isfinite(err)]
        energy_wh = float(c["energy_out_wh"][-1] - c["energy_out_wh"][0])
        km = out["measured_range_km"]
        out.update({
            "soc_estimate_error_max": float(err.max()) if len(err) else None,
            "energy_delivered_wh": energy_wh,
            "energy_wh_per_km": energy_wh / km if km > 0 else None,
            "soc_estimate_final": float(c["soc_estimate"][-1]),
            "soc_true_final": float(c["soc_true"][-1]) if math.isfinite(c["soc_true"][-1]) else None,
            "soc_weak_true_final": float(c["soc_weak_true"][-1]) if math.isfinite(c["soc_weak_true"][-1]) else None,
            "cell_v_min_final_v": float(c["cell_v_min_v"][-1]),
            "pack_voltage_min_v": float(c["pack_voltage_v"][driven].min()),
            "temperature_max_c": float(c["temperature_c"].max()),
            "limited_steps": int(c["limited"][driven].sum()),
            "trace_distance_km": _trace_distance_km(log),
            "driving_time_s": float(c["time_s"][-1]),
            "steps_per_s": round(n / elapsed, 1) if elapsed > 0 else None,
        })
    else:
        out["soc_estimate_error_max"] = None
    return out


def _trace_distance_km(log: SessionLog) -> float:
    """Distance the trace asked for over the same steps (the car may have fallen behind it)."""
    c = log.columns
    v_end = c["trace_speed_mps"]
    v_start = np.concatenate([[v_end[0]], v_end[:-1]])
    return float(np.sum(0.5 * (v_start[1:] + v_end[1:]) * c["dt_s"][1:]) / 1000.0)
