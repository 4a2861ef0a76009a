"""Read EPA's Test Car Lists into the hold-out set of the energy model: one row per BEV test car
(coastdown, test weight, rated power, unadjusted city and highway MPGe), none of them a calibration
car's record. The rules (which records are BEVs, how a result's unit is read, what is dropped and
why) are configs/holdout/epa_rules.toml; this script only applies them and says what it dropped.

    python3 bench/epa_holdout_extract.py LISTS_DIR [--out configs/holdout/epa_bev_test_cars.csv]

LISTS_DIR holds the lists as EPA publishes them (15tstcar.csv ... 24-testcar-2024-05-17_0.xlsx; the
source is named in the rules file). Needs pandas and openpyxl (not dependencies of kei: the
extracted CSV is what ships). bench/holdout.py runs the model on the result.
"""
from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kei.schema import read_toml  # noqa: E402
from kei.units import KG_PER_LB, W_PER_HP  # noqa: E402
from kei.vehicle.calibrate import WH_PER_GALLON_EQUIVALENT  # noqa: E402

RULES_FILE = ROOT / "configs" / "holdout" / "epa_rules.toml"
OUT_FILE = ROOT / "configs" / "holdout" / "epa_bev_test_cars.csv"
# One test car: a record's identity and its road-load setting (a carried-over record appears in
# several model years' lists with the same values and counts once).
KEY = ["Test Vehicle ID", "Test Veh Configuration #", "Equivalent Test Weight (lbs.)",
       "Target Coef A (lbf)", "Target Coef B (lbf/mph)", "Target Coef C (lbf/mph**2)"]
COLUMNS = ["test_vehicle_id", "configuration", "make", "model", "model_years", "drive", "etw_lb", "rated_power_hp",
           "nv_rpm_per_mph", "target_a_lbf", "target_b_lbf_per_mph", "target_c_lbf_per_mph2",
           "udds_mpge_unadjusted", "hwfet_mpge_unadjusted", "unit_as_listed", "udds_tests", "hwfet_tests",
           "same_model_as_calibration"]


def read_lists(directory: Path):
    import pandas as pd

    frames = []
    for f in sorted(directory.iterdir()):
        if f.suffix == ".csv":
            df = pd.read_csv(f, encoding="latin1", low_memory=False)
        elif f.suffix == ".xlsx":
            df = pd.read_excel(f)
        else:
            continue
        df["list_file"] = f.name
        frames.append(df)
    if not frames:
        raise SystemExit(f"epa_holdout_extract: no .csv or .xlsx Test Car List in {directory}")
    return pd.concat(frames, ignore_index=True)


def extract(lists, rules: dict) -> tuple[list[dict], Counter]:
    """The hold-out rows and the count of test cars dropped, by reason."""
    r = rules["extract"]
    fuel = lists["Test Fuel Type Description"].astype(str).str.strip()
    bev = lists[(fuel == "Electricity") & lists["Test Veh Displacement (L)"].isin(r["bev_displacements_l"])]
    proc = bev["Test Procedure Description"].astype(str).str.strip()
    cycles = {r["city_procedure"]: "udds", r["highway_procedure"]: "hwfet"}
    bev = bev[proc.isin(cycles)].assign(cycle=proc.map(cycles))
    patterns = [re.compile(p, re.IGNORECASE) for p in r["calibration_model_patterns"]]
    dropped, rows = Counter(), []
    for key, car in bev.groupby(KEY):
        first = car.iloc[0]
        if str(key[0]) in r["calibration_test_vehicle_ids"]:
            dropped["a calibration car's own record"] += 1
            continue
        results = {c: car.loc[car.cycle == c, "RND_ADJ_FE"].dropna() for c in ("udds", "hwfet")}
        if any(s.empty for s in results.values()):
            dropped["no city or no highway result"] += 1
            continue
        city, highway = (float(results[c].mean()) for c in ("udds", "hwfet"))
        unit = _unit(city, highway, r)
        if unit is None:
            dropped["result outside both unit ranges (placeholder 999 or ambiguous)"] += 1
            continue
        if unit == "kwh_per_100mi":
            # kWh/100 mi -> MPGe: 100 mi per (x kWh / kWh per gallon equivalent)
            city, highway = (100.0 * WH_PER_GALLON_EQUIVALENT / 1000.0 / x for x in (city, highway))
        etw_lb, hp = float(key[2]), float(first["Rated Horsepower"])
        if not hp * W_PER_HP / (etw_lb * KG_PER_LB) >= r["min_rated_power_w_per_kg"]:
            dropped["rated power implausible for the test weight"] += 1
            continue
        name = f"{first['Represented Test Veh Make']} {first['Represented Test Veh Model']}".strip()
        years = sorted({int(y) for y in car["Model Year"]})
        rows.append({
            "test_vehicle_id": str(key[0]), "configuration": int(key[1]),
            "make": str(first["Represented Test Veh Make"]),
            "model": str(first["Represented Test Veh Model"]),
            "model_years": f"{years[0]}" if len(years) == 1 else f"{years[0]}-{years[-1]}",
            "drive": str(first["Drive System Code"]), "etw_lb": etw_lb, "rated_power_hp": hp,
            "nv_rpm_per_mph": float(first["N/V Ratio"]), "target_a_lbf": float(key[3]),
            "target_b_lbf_per_mph": float(key[4]), "target_c_lbf_per_mph2": float(key[5]),
            "udds_mpge_unadjusted": round(city, 2), "hwfet_mpge_unadjusted": round(highway, 2),
            "unit_as_listed": unit, "udds_tests": len(results["udds"]), "hwfet_tests": len(results["hwfet"]),
            "same_model_as_calibration": any(p.search(name) for p in patterns),
        })
    return rows, dropped


def _unit(city: float, highway: float, r: dict) -> str | None:
    for unit, (lo, hi) in (("mpge", r["mpge_range"]), ("kwh_per_100mi", r["kwh_per_100mi_range"])):
        if lo <= city <= hi and lo <= highway <= hi:
            return unit
    return None


def write_csv(rows: list[dict], dropped: Counter, path: Path, files: list[str]) -> None:
    import csv

    with path.open("w", newline="") as fh:
        fh.write("# kei: the energy model's hold-out set: EPA BEV test cars, none a calibration car's record.\n"
                 "# Written by bench/epa_holdout_extract.py with the rules of configs/holdout/epa_rules.toml\n"
                 f"# (source of the lists named there) from: {', '.join(files)}.\n"
                 "# Results: unadjusted city (UDDS) and highway (HWFET) MPGe from the wall, the mean of the\n"
                 "# record's tests (kWh/100 mi where the maker listed that, converted). Dropped test cars:\n")
        for reason, n in sorted(dropped.items()):
            fh.write(f"#   {n:4d}  {reason}\n")
        w = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lists_dir", type=Path, help="folder with EPA's Test Car List files (.csv / .xlsx)")
    ap.add_argument("--out", type=Path, default=OUT_FILE)
    args = ap.parse_args(argv)
    lists = read_lists(args.lists_dir)
    rows, dropped = extract(lists, read_toml(RULES_FILE))
    rows.sort(key=lambda x: (x["make"].lower(), x["model"].lower(), x["test_vehicle_id"], x["configuration"]))
    write_csv(rows, dropped, args.out, sorted(set(lists["list_file"])))
    print(f"{len(rows)} test cars -> {args.out}; dropped: " + "; ".join(f"{n} {k}" for k, n in dropped.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
