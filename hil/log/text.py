"""A session result as the text `kei hil run`, `resume` and `report` print."""
from __future__ import annotations


def _fmt(x, spec: str, none: str = "n/a") -> str:
    return none if x is None else format(x, spec)


def format_result(r: dict) -> str:
    where = f"{r.get('emulator')} emulator on {r.get('port')}" if r.get("emulator") else r.get("port")
    pr = r.get("predicted_range_km")
    lines = [f"{r.get('design')} on {r.get('cycle')} over {where}"]
    if r.get("measured_range_km") is not None:
        lines.append(f"  measured range      {r['measured_range_km']:8.1f} km   (predicted {_fmt(pr, '.1f')} km, "
                     f"{_fmt(r.get('range_difference_percent'), '+.2f')} %)")
    else:  # no range was measured: say so, never a number that looks like one
        lines.append(f"  NO RANGE MEASURED   {r.get('distance_km', 0.0):8.1f} km driven (predicted range "
                     f"{_fmt(pr, '.1f')} km): {r.get('range_invalid_reason')}")
    if r.get("label_range_km") is not None:
        lines.append(f"  label range         {r['label_range_km']:8.1f} km   (the model's, with the cycle's range factor)")
    lines.append(f"  ended by            {r['cutoff_reason']}: {r['cutoff_detail']}")
    if r.get("energy_delivered_wh") is not None:
        lines.append(f"  energy delivered    {r['energy_delivered_wh'] / 1000:8.2f} kWh at the terminals, "
                     f"{_fmt(r.get('energy_wh_per_km'), '.1f')} Wh/km")
        lines.append(f"  SOC                 estimate {100 * r['soc_estimate_final']:.2f} %, true "
                     f"{_fmt(r['soc_true_final'] and 100 * r['soc_true_final'], '.2f')} %, max estimation error "
                     f"{_fmt(r['soc_estimate_error_max'] and 100 * r['soc_estimate_error_max'], '.2f')} %")
        lines.append(f"  BMS limits          {r['limited_steps']} steps limited by the BMS "
                     f"(trace asked {r['trace_distance_km']:.1f} km)")
    lines.append(f"  steps               {r['steps']} ({r['cycles']:.2f} cycles) in {r['elapsed_s']:.1f} s"
                 + (f", {r['steps_per_s']:.0f} steps/s" if r.get("steps_per_s") else ""))
    lines.append(f"  link                {r['frames_sent']} frames sent, {r['frames_retried']} retried, "
                 f"{r['crc_errors']} CRC errors, {r['nacks']} NACKs, {r['timeouts']} timeouts, "
                 f"{r['reconnects']} reconnects, {r['device_restores']} device restores")
    if r.get("log_damage"):
        lines.append(f"  log damage          {r['log_damage']} (set aside, never deleted: docs/hil.md)")
    if r.get("injected"):
        lines.append("  injected faults     " + ", ".join(f"{k} {v}" for k, v in r["injected"].items() if v))
    lines.append(f"  log                 {r.get('log_dir')}  (kei hil report {r.get('log_dir')} --plot run.png)")
    return "\n".join(lines)
