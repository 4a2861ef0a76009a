"""A session log drawn against the model's prediction: speed, current, voltage and SOC over time."""
from __future__ import annotations

from kei.hil.log.session_log import CYCLE_FILE, DESIGN_FILE, SessionLog
from kei.hil.log.summary import summarize
from kei.units import KMH_PER_MPS
from kei.vehicle.cycles import load_cycle
from kei.vehicle.files import load_vehicle
from kei.vehicle.predict import predict

S_PER_MIN = 60.0


def plot_session(log: SessionLog, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only; the machines have no screen
    import matplotlib.pyplot as plt

    c = log.columns
    cycle_name = log.header["cycle"]
    vehicle = load_vehicle(log.dir / DESIGN_FILE)
    cycle = load_cycle(log.dir / CYCLE_FILE if cycle_name == CYCLE_FILE else cycle_name)
    t_end = float(c["time_s"][-1]) if log.rows else 0.0
    pred = predict(vehicle, cycle).series(max(t_end, 1.0))
    t = c["time_s"] / S_PER_MIN
    tp = pred["time_s"] / S_PER_MIN
    measured = dict(color="tab:blue", lw=0.6, label="bench (measured)")
    model = dict(color="tab:orange", lw=0.6, alpha=0.8, label="energy model (predicted)")

    fig, axes = plt.subplots(4, 1, figsize=(11, 10), sharex=True)
    axes[0].plot(tp, pred["speed_kmh"], **{**model, "label": "trace"})
    axes[0].plot(t, c["speed_mps"] * KMH_PER_MPS, **measured)
    axes[0].set_ylabel("speed (km/h)")
    axes[1].plot(tp, pred["current_a"], **model)
    axes[1].plot(t, c["pack_current_a"], **measured)
    axes[1].plot(t, c["allowed_discharge_a"], color="tab:red", lw=0.8, label="BMS allowed discharge")
    axes[1].set_ylabel("pack current (A)\ndischarge > 0")
    axes[2].plot(tp, pred["voltage_v"], **model)
    axes[2].plot(t, c["pack_voltage_v"], **measured)
    axes[2].set_ylabel("pack voltage (V)")
    axes[3].plot(tp, 100 * pred["soc"], **model)
    axes[3].plot(t, 100 * c["soc_estimate"], color="tab:blue", lw=1, label="BMS estimate")
    axes[3].plot(t, 100 * c["soc_true"], color="tab:green", lw=1, ls="--", label="emulator true (typical group)")
    axes[3].set_ylabel("state of charge (%)")
    axes[3].set_xlabel("driving time (min)")
    r = log.result or summarize(log)
    pr = r.get("predicted_range_km")
    measured = r.get("measured_range_km")
    fig.suptitle(f"{r.get('design')} on {r.get('cycle')}: "
                 + (f"measured {measured:.1f} km" if measured is not None
                    else f"{r.get('distance_km', 0.0):.1f} km driven, no range measured")
                 + (f" vs predicted {pr:.1f} km ({r['range_difference_percent']:+.1f} %)"
                    if pr and measured is not None else "")
                 + f", ended by {r['cutoff_reason']}")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
