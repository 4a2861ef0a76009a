"""The vehicle model both halves share: drive cycles, vehicle and design files, the energy model."""
from __future__ import annotations

from kei.vehicle.api import simulate
from kei.vehicle.cycles import Cycle, load_cycle
from kei.vehicle.energy import SimResult
from kei.vehicle.files import Vehicle, load_vehicle
from kei.vehicle.predict import Prediction, predict

__all__ = ["Cycle", "Prediction", "SimResult", "Vehicle", "load_cycle", "load_vehicle", "predict", "simulate"]
