/* A small pack with round numbers, so the tests can work out the expected values by hand:
 * 4s2p of a 10 Ah cell (groups: Q_t 20 Ah, weakest Q_w 16 Ah with spread 0.2), and a linear OCV
 * table from 3.0 V at SOC 0 to 4.0 V at SOC 1 (slope 1 V per unit SOC). */
#ifndef KEI_FIXTURE_H
#define KEI_FIXTURE_H

#include "kei_bms.h"

#include <string.h>

#define FX_SERIES 4
#define FX_PARALLEL 2
#define FX_CAPACITY_AH 10.0
#define FX_SPREAD 0.2
#define FX_R0_OHM 0.01
#define FX_R1_OHM 0.02
#define FX_TAU_S 20.0

static inline kei_configure_t fixture_configure(void)
{
    kei_configure_t c;
    memset(&c, 0, sizeof c);
    c.series = FX_SERIES;
    c.parallel = FX_PARALLEL;
    c.chemistry = 1;
    c.capacity_ah = (float)FX_CAPACITY_AH;
    c.r0_ohm = (float)FX_R0_OHM;
    c.r1_ohm = (float)FX_R1_OHM;
    c.tau1_s = (float)FX_TAU_S;
    c.capacity_spread = (float)FX_SPREAD;
    c.cell_uv_v = 3.1f;
    c.cell_ov_v = 4.1f;
    c.derate_window_v = 0.2f;
    c.max_discharge_a = 40.0f;
    c.max_charge_a = 20.0f;
    c.overcurrent_factor = 1.5f;
    c.temp_derate_c = 45.0f;
    c.temp_max_c = 60.0f;
    c.heat_capacity_j_per_k = 2000.0f;
    c.thermal_resistance_k_per_w = 2.0f;
    c.ambient_c = 25.0f;
    c.debounce_voltage_s = 2.0f;
    c.debounce_current_s = 1.0f;
    c.debounce_temp_s = 5.0f;
    c.rest_current_a = 0.5f;
    c.rest_time_s = 60.0f;
    c.ocv_gain = 0.5f;
    c.ocv_min_slope_v = 0.5f;
    c.current_sensor_gain = 1.0f;
    c.soc_true = 0.8f;
    c.soc_estimate = 0.8f;
    c.temperature_c = 25.0f;
    c.energy_out_wh = 0.0f;
    c.soc_weak_true = 0.8f;
    return c;
}

static inline kei_ocv_table_t fixture_ocv(void)
{
    kei_ocv_table_t t;
    int i;
    t.chemistry = 1;
    t.points = KEI_OCV_POINTS;
    for (i = 0; i < KEI_OCV_POINTS; i++) {
        t.ocv_mv[i] = (uint16_t)(3000 + 50 * i);
    }
    return t;
}

/* the cell OCV of the linear fixture table, in double, clamped like the model's lookup */
static inline double fixture_ocv_v(double soc)
{
    soc = soc < 0 ? 0 : (soc > 1 ? 1 : soc);
    return 3.0 + soc;
}

/* float accumulation over many steps vs the exact double answer (in a double build the fixture's
 * values still pass through binary32, as CONFIGURE carries them: ~1e-8 relative) */
#define TOL(single, dbl) (sizeof(kei_real_t) == sizeof(float) ? (single) : (dbl))

#endif
