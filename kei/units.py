"""Unit conversions, each defined once. Exact by definition (SI, NIST SP 811); no physics here:
physical figures with sources live in configs/."""
from __future__ import annotations

import math

KMH_PER_MPS = 3.6
SECONDS_PER_HOUR = 3600.0
WH_PER_J = 1.0 / SECONDS_PER_HOUR
W_PER_KW = 1000.0
M_PER_KM = 1000.0
MV_PER_V = 1000.0
RAD_S_PER_RPM = 2.0 * math.pi / 60.0
RPM_PER_RAD_S = 1.0 / RAD_S_PER_RPM
KG_PER_LB = 0.45359237          # international avoirdupois pound, exact
N_PER_LBF = 4.4482216152605     # pound-force, exact (g_n x lb)
MPS_PER_MPH = 0.44704           # exact
W_PER_HP = 745.6998715822702    # mechanical horsepower, 550 ft lbf/s, exact
BITS_PER_BYTE_8N1 = 10          # a UART byte: start + 8 data + stop
