"""The bench session: the car's per-step demand, the send window, pacing, end conditions, the session loop and its runner."""
