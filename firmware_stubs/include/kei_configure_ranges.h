/* kei_configure_ranges.h: the physical range of every CONFIGURE field, generated from
 * hil/wire/configure_ranges.py by `python3 -m kei.hil.firmware.ranges_header`. Do not edit: regenerate.
 * The Python emulator and the host check the same table; docs/protocol.md lists it.
 * X(field, low comparison, low, high comparison, high): a value is accepted when
 * `value <low comparison> low && value <high comparison> high` (false for NaN). */
#ifndef KEI_CONFIGURE_RANGES_H
#define KEI_CONFIGURE_RANGES_H

#define KEI_PARALLEL_MAX 1000u
/* heat capacity x thermal resistance, s: explicit Euler stays monotone over the longest step */
#define KEI_MIN_THERMAL_TIME_CONSTANT_S 60.0f

#define KEI_CONFIGURE_RANGES(X) \
    X(capacity_ah, >=, 0.01f, <=, 2000.0f) /* Ah: a cell: from a 40 mAh coin cell to the largest prismatic storage cells (~1000 Ah) */ \
    X(r0_ohm, >=, 1e-05f, <=, 10.0f) /* ohm: a cell's ohmic resistance: 0.1 mOhm (large prismatic) to ~10 ohm (coin cell); zero would make the power-mode current unbounded */ \
    X(r1_ohm, >=, 0.0f, <=, 10.0f) /* ohm: RC-branch resistance: at most the size of R0's range (0: no RC branch) */ \
    X(tau1_s, >=, 0.1f, <=, 3600.0f) /* s: RC time constant: diffusion in cells is 1 s to minutes */ \
    X(capacity_spread, >=, 0.0f, <, 0.5f) /* -: weakest group's capacity deficit (protocol.md) */ \
    X(cell_uv_v, >=, 1.0f, <=, 4.5f) /* V: under-voltage threshold: no chemistry is usable below 1 V (sodium-ion and LTO stop at 1.5 V) or cuts off above 4.5 V; outside, the protection never trips or always does */ \
    X(cell_ov_v, >=, 1.5f, <=, 5.0f) /* V: over-voltage threshold: LTO charges to 2.8 V, LMNO to 4.9 V; above 5 V the protection is off */ \
    X(derate_window_v, >=, 0.001f, <=, 1.0f) /* V: derating width: a few mV (a step) to 1 V */ \
    X(max_discharge_a, >=, 0.01f, <=, 10000.0f) /* A: pack peak current: 10 kA is beyond any road vehicle (~1.5 kA) */ \
    X(max_charge_a, >=, 0.0f, <=, 10000.0f) /* A: pack charge current (0: no regeneration) */ \
    X(overcurrent_factor, >=, 1.0f, <=, 10.0f) /* -: over-current fault above this multiple of the limits; beyond 10x the protection is off in practice */ \
    X(temp_derate_c, >=, -40.0f, <=, 100.0f) /* C: derating starts between the coldest operating limit and 100 C */ \
    X(temp_max_c, >=, 20.0f, <=, 100.0f) /* C: over-temperature fault: cells are rated to 45-80 C; above 100 C the protection is off (separator melt ~130 C) */ \
    X(heat_capacity_j_per_k, >=, 1.0f, <=, 100000000.0f) /* J/K: whole pack: 1 J/K (a coin cell) to 1e8 J/K (a 100 t pack) */ \
    X(thermal_resistance_k_per_w, >=, 1e-05f, <=, 1000.0f) /* K/W: pack to ambient: liquid-cooled pack to a cell in still air */ \
    X(ambient_c, >=, -50.0f, <=, 80.0f) /* C: ambient: the coldest and hottest places a bench stands */ \
    X(debounce_voltage_s, >=, 0.0f, <=, 60.0f) /* s: UV/OV debounce: production BMSs use ms to a few s; a debounce longer than a minute switches the protection off */ \
    X(debounce_current_s, >=, 0.0f, <=, 60.0f) /* s: over-current debounce (as above) */ \
    X(debounce_temp_s, >=, 0.0f, <=, 60.0f) /* s: over-temperature debounce (as above) */ \
    X(rest_current_a, >=, 0.0f, <=, 10000.0f) /* A: rest detection threshold, within the current range */ \
    X(rest_time_s, >=, 0.0f, <=, 86400.0f) /* s: rest before an OCV correction: up to a day */ \
    X(ocv_gain, >=, 0.0f, <=, 1.0f) /* -: share of the OCV correction applied (protocol.md) */ \
    X(ocv_min_slope_v, >=, 0.0f, <=, 100.0f) /* V: per unit SOC; the steepest OCV segment of any chemistry is ~35 V */ \
    X(current_sensor_gain, >=, 0.5f, <=, 1.5f) /* -: the coulomb counter's gain error: a sensor off by more than 50 % is broken */ \
    X(soc_true, >=, 0.0f, <=, 1.0f) /* -: state of charge */ \
    X(soc_estimate, >=, 0.0f, <=, 1.0f) /* -: state of charge */ \
    X(temperature_c, >=, -50.0f, <=, 120.0f) /* C: pack temperature at start (a restore after a hot run included) */ \
    X(energy_out_wh, >=, -1000000000.0f, <=, 1000000000.0f) /* Wh: energy counter at start (a restore carries it; regeneration can make it negative) */ \
    X(soc_weak_true, >=, 0.0f, <=, 1.0f) /* -: state of charge */ \

#endif /* KEI_CONFIGURE_RANGES_H */
