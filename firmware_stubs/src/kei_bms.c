/* The BMS logic (bms_model.md steps 3 energy, 5 to 7): energy counter, SOC estimate by coulomb
 * counting with an OCV correction at rest, debounced protections that latch and open the
 * contactor, and trapezoid derating of the allowed currents. It sees only measurements, so the
 * same code runs on the emulated pack and on a board's sensors. */
#include "kei_bms.h"

#include "kei_math.h"

#define R(x) ((kei_real_t)(x))
#define SECONDS_PER_HOUR R(3600)

static kei_real_t clamp01(kei_real_t x)
{
    return x < 0 ? R(0) : (x > 1 ? R(1) : x);
}

/* Per-protection condition of the fault table (protocol.md), in bit order. */
static int condition_holds(int k, const kei_params_t *p, const kei_meas_t *m, uint8_t *group, kei_real_t *value)
{
    /* the weakest group wins a tie, as for the FAULT frame's group */
    const int w_min = m->v_w_v <= m->v_t_v;
    const int w_max = m->v_w_v >= m->v_t_v;
    switch (k) {
    case 0:
        *group = w_min ? KEI_GROUP_WEAKEST : KEI_GROUP_TYPICAL;
        *value = w_min ? m->v_w_v : m->v_t_v;
        return *value < p->cell_uv_v;
    case 1:
        *group = w_max ? KEI_GROUP_WEAKEST : KEI_GROUP_TYPICAL;
        *value = w_max ? m->v_w_v : m->v_t_v;
        return *value > p->cell_ov_v;
    case 2:
        *group = KEI_GROUP_PACK;
        *value = m->current_a;
        return m->current_a > p->overcurrent_factor * p->max_discharge_a;
    case 3:
        *group = KEI_GROUP_PACK;
        *value = m->current_a;
        return -m->current_a > p->overcurrent_factor * p->max_charge_a;
    default:
        *group = KEI_GROUP_PACK;
        *value = m->temperature_c;
        return m->temperature_c > p->temp_max_c;
    }
}

static void latch(kei_bms_t *b, uint16_t bit, uint8_t group, kei_real_t value, kei_fault_event_t *events, int *n)
{
    if (b->fault_flags & bit) {
        return;
    }
    b->fault_flags = (uint16_t)(b->fault_flags | bit);
    events[*n].bit = bit;
    events[*n].group = group;
    events[*n].value = value;
    (*n)++;
}

int kei_bms_update(kei_bms_t *b, const kei_params_t *p, const kei_meas_t *m, kei_real_t dt_s,
                   kei_fault_event_t events[KEI_FAULT_COUNT])
{
    const kei_real_t i_a = m->current_a;
    int n = 0, k;

    b->energy_out_wh += m->pack_voltage_v * i_a * dt_s / SECONDS_PER_HOUR;

    /* SOC estimate: the counter sees the current through the sensor's gain error */
    b->soc_est -= i_a * p->current_sensor_gain * dt_s / (SECONDS_PER_HOUR * p->q_t_ah);
    if (kei_abs(i_a) < p->rest_current_a) {
        b->rest_s += dt_s;
    } else {
        b->rest_s = 0;
        b->corrected = 0;
    }
    if (b->rest_s >= p->rest_time_s && !b->corrected) {
        kei_real_t slope_v;
        const kei_real_t soc_ocv = kei_ocv_inverse(p, m->pack_voltage_v / R(p->series), &slope_v);
        b->corrected = 1;
        if (slope_v >= p->ocv_min_slope_v) { /* a flat plateau says little: skip it */
            b->soc_est += p->ocv_gain * (soc_ocv - b->soc_est);
        }
    }

    for (k = 0; k < KEI_FAULT_COUNT - 1; k++) {
        uint8_t group;
        kei_real_t value;
        if (condition_holds(k, p, m, &group, &value)) {
            b->timer_s[k] += dt_s;
            if (b->timer_s[k] >= p->debounce_s[k]) {
                latch(b, (uint16_t)(1u << k), group, value, events, &n);
            }
        } else {
            b->timer_s[k] = 0;
        }
    }
    /* EMPTY: no debounce; NaN (hardware: no true SOC) never trips it */
    if (m->soc_w <= 0) {
        latch(b, KEI_FAULT_EMPTY, KEI_GROUP_WEAKEST, m->soc_w, events, &n);
    } else if (m->soc_t <= 0) {
        latch(b, KEI_FAULT_EMPTY, KEI_GROUP_TYPICAL, m->soc_t, events, &n);
    }
    if (b->fault_flags) {
        b->contactor = 0;
    }
    return n;
}

void kei_bms_allowed(const kei_bms_t *b, const kei_params_t *p, const kei_meas_t *m,
                     kei_real_t *discharge_a, kei_real_t *charge_a)
{
    kei_real_t vmin_nl, vmax_nl, f_temp;
    if (!b->contactor) {
        *discharge_a = 0;
        *charge_a = 0;
        return;
    }
    /* cell voltages without this step's ohmic drop, so the limit does not chase the load */
    vmin_nl = m->v_w_v <= m->v_t_v ? m->v_w_v + m->current_a * p->r0_w_ohm : m->v_t_v + m->current_a * p->r0_t_ohm;
    vmax_nl = m->v_w_v >= m->v_t_v ? m->v_w_v + m->current_a * p->r0_w_ohm : m->v_t_v + m->current_a * p->r0_t_ohm;
    f_temp = clamp01((p->temp_max_c - m->temperature_c) / (p->temp_max_c - p->temp_derate_c));
    *discharge_a = p->max_discharge_a * kei_min(f_temp, clamp01((vmin_nl - p->cell_uv_v) / p->derate_window_v));
    *charge_a = p->max_charge_a * kei_min(f_temp, clamp01((p->cell_ov_v - vmax_nl) / p->derate_window_v));
}
