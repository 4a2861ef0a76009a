"""`kei cycles` and `kei simulate`: the drive-cycle library and one car on one cycle."""
from __future__ import annotations

import csv

from kei.errors import ToleranceError
from kei.output import PLOT_SUFFIXES, check_output_path, print_json
from kei.vehicle.cycles import cycle_names, load_cycle
from kei.vehicle.energy import simulate
from kei.vehicle.files import load_vehicle


def register(sub) -> None:
    p = sub.add_parser("cycles", help="list the bundled drive cycles")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=run_cycles)

    p = sub.add_parser("simulate", help="simulate a vehicle or design file on a drive cycle")
    p.add_argument("vehicle", help="vehicle or design: a TOML file or a bundled name (nissan_sakura, us_kei_150km)")
    p.add_argument("--cycle", default="wltc_jp", help="a procedure (epa_city, epa_highway, epa_combined, wltp, wltc_jp, "
                   "nedc), a raw trace (udds, wltc_3b, ...) or a CSV path (default: wltc_jp)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--strict", action="store_true", help="exit 6 when the run is not a valid test of its procedure "
                   "(the car could not follow the trace within its tolerance)")
    p.add_argument("--plot", metavar="PNG", help="draw speed, battery power and SOC against time (.png, .pdf, .svg)")
    p.add_argument("--csv", metavar="FILE", help="write the time series (one row per step, units in the headers)")
    p.set_defaults(func=run_simulate)


def run_cycles(args) -> int:
    rows = [load_cycle(n).summary() for n in cycle_names()]
    if args.json:
        print_json(rows)
        return 0
    print(f"{'name':<13}{'duration s':>11}{'distance km':>13}{'max km/h':>10}{'mean km/h':>11}  description")
    for r in rows:
        print(f"{r['name']:<13}{r['duration_s']:>11.0f}{r['distance_km']:>13.2f}{r['max_speed_kmh']:>10.1f}"
              f"{r['mean_speed_kmh']:>11.1f}  {r['description']}")
    return 0


def run_simulate(args) -> int:
    check_output_path(args.plot, "--plot", PLOT_SUFFIXES)
    check_output_path(args.csv, "--csv", (".csv",))
    vehicle = load_vehicle(args.vehicle)
    cycle = load_cycle(args.cycle)
    result = simulate(vehicle, cycle)
    if args.plot:
        from kei.vehicle.plot import plot_simulation

        plot_simulation(result, args.plot)
    if args.csv:
        write_timeseries_csv(result.timeseries(), args.csv)
    s = result.to_dict()
    if args.json:
        print_json(s)
    else:
        _print_text(result, s, cycle, args)
    if args.strict and not result.valid_test:
        raise ToleranceError(f"{args.vehicle} on {cycle.name}: {result.validity_reason}")
    return 0


def write_timeseries_csv(series: dict, path: str) -> None:
    columns = list(series)
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(columns)
        for row in zip(*(series[c] for c in columns)):
            out.writerow([repr(float(v)) for v in row])


def _print_text(result, s: dict, cycle, args) -> None:
    what = f"procedure {s['procedure']}: {s['trace']}" if s["procedure"] else s["trace"]
    print(f"{s['vehicle']} on {s['cycle']} ({s['distance_km']:.2f} km driven, {s['duration_s']:.0f} s)")
    print(f"  {what}")
    print(f"  test mass            {s['test_mass_kg']:8.0f} kg  ({s['test_mass_rule']})")
    band = f"  (90 % band {s['energy_wh_per_km_p05']:.1f} - {s['energy_wh_per_km_p95']:.1f})" if "energy_wh_per_km_p05" in s else ""
    print(f"  energy at the pack   {s['energy_wh_per_km']:8.1f} Wh/km{band}  (terminal {s['terminal_energy_wh_per_km']:.1f}, "
          f"wall {s['ac_energy_wh_per_km']:.1f} Wh/km)")
    rule = " (label: weighted, x0.7)" if cycle.is_composite else (
        f" (x{cycle.range_factor:g}, label rule)" if cycle.range_factor != 1.0 else " (cycles repeated to empty)")
    band = f"  (90 % band {s['range_km_p05']:.0f} - {s['range_km_p95']:.0f} km)" if "range_km_p05" in s else ""
    if result.valid_test:
        print(f"  range                {s['range_km']:8.1f} km{rule}{band}, {s['usable_energy_kwh']:.2f} kWh usable")
    else:
        # An invalid test has no range headline: say why, then what the car did drive.
        print(f"  NOT A VALID TEST     {s['validity_reason']}")
        print(f"  (driven to empty it would cover {s['range_km']:.1f} km; not an official range)")
    print(f"  battery power        {s['max_battery_power_kw']:8.1f} kW max, {s['min_battery_power_kw']:.1f} kW min (regen)")
    if result.trace_miss_steps:
        print(f"  TRACE MISSED         {s['trace_miss_s']:8.0f} s  behind the trace (power, torque or speed limit); "
              f"drove {s['distance_km']:.2f} of {s['trace_distance_km']:.2f} km")
    else:
        print("  trace                followed everywhere")
    led = s["ledger_wh"]
    print("  energy ledger (Wh):  " + ", ".join(f"{k} {v:.1f}" for k, v in led.items()))
    if args.plot:
        print(f"  plot written to {args.plot}")
    if args.csv:
        print(f"  time series written to {args.csv}")
