"""Plots of a simulation: speed, battery power and state of charge against time."""
from __future__ import annotations

from kei.units import KMH_PER_MPS
from kei.vehicle.energy import SimResult


def plot_simulation(result: SimResult, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only; the machines have no screen
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(10, 7.5), sharex=True)
    t = result.time_s
    axes[0].plot(t, result.speed_mps * KMH_PER_MPS, color="tab:blue", lw=1)
    axes[0].set_ylabel("speed (km/h)")
    axes[1].plot(t, result.battery_power_w / 1000.0, color="tab:red", lw=0.8)
    axes[1].axhline(0, color="grey", lw=0.5)
    axes[1].set_ylabel("battery power (kW)\ndischarge > 0")
    axes[2].plot(t, result.soc * 100.0, color="tab:green")
    axes[2].set_ylabel("state of charge (%)")
    axes[2].set_xlabel("time (s)")
    s = result.summary()
    fig.suptitle(f"{s['vehicle']} on {s['cycle']}: {s['energy_wh_per_km']:.1f} Wh/km, range {s['range_km']:.0f} km")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
