"""The vehicle model both halves share: drive cycles, vehicle and design files, the energy model."""
from __future__ import annotations

from kei.vehicle.cycles import Cycle, load_cycle
from kei.vehicle.energy import SimResult, simulate
from kei.vehicle.files import Vehicle, load_vehicle

__all__ = ["Cycle", "SimResult", "Vehicle", "load_cycle", "load_vehicle", "simulate"]
