/* CONFIGURE and OCV_TABLE: the range checks of protocol.md, and the model parameters derived from
 * them once (bms_model.md "Pack structure"). */
#include "kei_bms.h"
#include "kei_configure_ranges.h"

#include "kei_math.h"

#define R(x) ((kei_real_t)(x))

static int finite_all(const float *v, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (!isfinite(v[i])) {
            return 0;
        }
    }
    return 1;
}

/* Every field within its physical range (kei_configure_ranges.h, generated from the table the
 * Python emulator and the host check too); NaN fails every comparison. */
#define KEI_IN_RANGE(field, lo_op, lo, hi_op, hi) && c->field lo_op lo && c->field hi_op hi
int kei_configure_valid(const kei_configure_t *c)
{
    const float floats[] = {
        c->capacity_ah, c->r0_ohm, c->r1_ohm, c->tau1_s, c->capacity_spread, c->cell_uv_v, c->cell_ov_v,
        c->derate_window_v, c->max_discharge_a, c->max_charge_a, c->overcurrent_factor, c->temp_derate_c,
        c->temp_max_c, c->heat_capacity_j_per_k, c->thermal_resistance_k_per_w, c->ambient_c,
        c->debounce_voltage_s, c->debounce_current_s, c->debounce_temp_s, c->rest_current_a,
        c->rest_time_s, c->ocv_gain, c->ocv_min_slope_v, c->current_sensor_gain, c->soc_true,
        c->soc_estimate, c->temperature_c, c->energy_out_wh, c->soc_weak_true,
    };
    const float thermal_tau_s = c->heat_capacity_j_per_k * c->thermal_resistance_k_per_w;
    if (!finite_all(floats, sizeof floats / sizeof floats[0])) {
        return 0;
    }
    return c->series >= 1 && c->series <= KEI_MAX_SERIES && c->parallel >= 1 && c->parallel <= KEI_PARALLEL_MAX
        KEI_CONFIGURE_RANGES(KEI_IN_RANGE)
        && c->cell_uv_v < c->cell_ov_v && c->temp_max_c > c->temp_derate_c
        && thermal_tau_s >= KEI_MIN_THERMAL_TIME_CONSTANT_S;
}
#undef KEI_IN_RANGE

int kei_ocv_table_valid(const kei_ocv_table_t *t)
{
    int i;
    if (t->points != KEI_OCV_POINTS || t->ocv_mv[0] == 0) {
        return 0;
    }
    for (i = 1; i < KEI_OCV_POINTS; i++) {
        if (t->ocv_mv[i] <= t->ocv_mv[i - 1]) {
            return 0;
        }
    }
    return 1;
}

void kei_params_from(const kei_configure_t *c, const kei_ocv_table_t *t, kei_params_t *p)
{
    const kei_real_t keep = R(1) - R(c->capacity_spread); /* the weakest group's share */
    int i;
    p->series = c->series;
    p->q_t_ah = R(c->capacity_ah) * R(c->parallel);
    p->q_w_ah = p->q_t_ah * keep;
    p->r0_t_ohm = R(c->r0_ohm) / R(c->parallel);
    p->r0_w_ohm = p->r0_t_ohm / keep;
    p->r1_t_ohm = R(c->r1_ohm) / R(c->parallel);
    p->r1_w_ohm = p->r1_t_ohm / keep;
    p->tau1_s = c->tau1_s;
    for (i = 0; i < KEI_OCV_POINTS; i++) {
        p->ocv_v[i] = R(t->ocv_mv[i]) / R(1000);
    }
    p->cell_uv_v = c->cell_uv_v;
    p->cell_ov_v = c->cell_ov_v;
    p->derate_window_v = c->derate_window_v;
    p->max_discharge_a = c->max_discharge_a;
    p->max_charge_a = c->max_charge_a;
    p->overcurrent_factor = c->overcurrent_factor;
    p->temp_derate_c = c->temp_derate_c;
    p->temp_max_c = c->temp_max_c;
    p->heat_capacity_j_per_k = c->heat_capacity_j_per_k;
    p->thermal_resistance_k_per_w = c->thermal_resistance_k_per_w;
    p->ambient_c = c->ambient_c;
    p->debounce_s[0] = c->debounce_voltage_s; /* UV */
    p->debounce_s[1] = c->debounce_voltage_s; /* OV */
    p->debounce_s[2] = c->debounce_current_s; /* OC discharge */
    p->debounce_s[3] = c->debounce_current_s; /* OC charge */
    p->debounce_s[4] = c->debounce_temp_s;    /* OT */
    p->rest_current_a = c->rest_current_a;
    p->rest_time_s = c->rest_time_s;
    p->ocv_gain = c->ocv_gain;
    p->ocv_min_slope_v = c->ocv_min_slope_v;
    p->current_sensor_gain = c->current_sensor_gain;
}
