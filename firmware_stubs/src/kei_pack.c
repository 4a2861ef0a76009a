/* The emulated pack (bms_model.md "Pack structure", steps 1 to 4): a typical and a weakest cell
 * group, each an OCV source with R0 and one RC branch, and one lumped thermal mass.
 * Constants are cast to kei_real_t so a float build never drags in double arithmetic (a
 * Cortex-M4F has a single-precision FPU only). */
#include "kei_bms.h"

#include "kei_math.h"

#define R(x) ((kei_real_t)(x))
#define SECONDS_PER_HOUR R(3600)

kei_real_t kei_ocv(const kei_params_t *p, kei_real_t soc)
{
    kei_real_t x;
    int i;
    if (!(soc > 0)) {
        soc = 0;
    } else if (soc > 1) {
        soc = 1;
    }
    x = soc * R(KEI_OCV_POINTS - 1); /* position in table steps of 0.05 */
    i = (int)x;
    if (i > KEI_OCV_POINTS - 2) {
        i = KEI_OCV_POINTS - 2;
    }
    return p->ocv_v[i] + (x - R(i)) * (p->ocv_v[i + 1] - p->ocv_v[i]);
}

kei_real_t kei_ocv_inverse(const kei_params_t *p, kei_real_t v, kei_real_t *slope_v)
{
    const kei_real_t *ocv = p->ocv_v;
    kei_real_t frac;
    int i = 0;
    while (i < KEI_OCV_POINTS - 2 && v > ocv[i + 1]) { /* the segment with ocv[i] < v <= ocv[i + 1] */
        i++;
    }
    frac = (v - ocv[i]) / (ocv[i + 1] - ocv[i]);
    frac = frac > 0 ? (frac < 1 ? frac : R(1)) : R(0); /* clamped to [0, 1]; NaN reads as 0 */
    *slope_v = (ocv[i + 1] - ocv[i]) * R(KEI_OCV_POINTS - 1);
    return (R(i) + frac) / R(KEI_OCV_POINTS - 1);
}

kei_real_t kei_pack_current_for_power(const kei_pack_t *s, const kei_params_t *p, kei_real_t power_w)
{
    const kei_real_t typical = R(p->series - 1u);
    const kei_real_t e_v = typical * (kei_ocv(p, s->soc_t) - s->vrc_t_v) + kei_ocv(p, s->soc_w) - s->vrc_w_v;
    const kei_real_t r_ohm = typical * p->r0_t_ohm + p->r0_w_ohm;
    const kei_real_t disc = e_v * e_v - R(4) * r_ohm * power_w;
    kei_real_t denom;
    if (disc < 0) {
        return e_v / (R(2) * r_ohm); /* beyond the pack's maximum power: deliver that maximum */
    }
    denom = e_v + kei_sqrt(disc);
    return denom > 0 ? R(2) * power_w / denom : R(0);
}

void kei_pack_measure(const kei_pack_t *s, const kei_params_t *p, kei_real_t current_a, kei_meas_t *m)
{
    m->current_a = current_a;
    m->v_w_v = kei_ocv(p, s->soc_w) - current_a * p->r0_w_ohm - s->vrc_w_v;
    m->temperature_c = s->temperature_c;
    m->soc_w = s->soc_w;
    if (p->series > 1u) {
        m->v_t_v = kei_ocv(p, s->soc_t) - current_a * p->r0_t_ohm - s->vrc_t_v;
        m->soc_t = s->soc_t;
    } else { /* only the weakest group exists */
        m->v_t_v = m->v_w_v;
        m->soc_t = s->soc_w;
    }
    m->pack_voltage_v = R(p->series - 1u) * m->v_t_v + m->v_w_v;
}

void kei_pack_step(kei_pack_t *s, const kei_params_t *p, kei_real_t dt_s, kei_real_t current_a, kei_meas_t *m)
{
    const kei_real_t a = kei_exp(-dt_s / p->tau1_s);
    const kei_real_t typical = R(p->series - 1u);
    const kei_real_t heat_w = current_a * current_a
        * (typical * (p->r0_t_ohm + p->r1_t_ohm) + p->r0_w_ohm + p->r1_w_ohm);
    s->soc_t -= current_a * dt_s / (SECONDS_PER_HOUR * p->q_t_ah);
    s->soc_w -= current_a * dt_s / (SECONDS_PER_HOUR * p->q_w_ah);
    s->vrc_t_v = a * s->vrc_t_v + p->r1_t_ohm * (R(1) - a) * current_a;
    s->vrc_w_v = a * s->vrc_w_v + p->r1_w_ohm * (R(1) - a) * current_a;
    s->temperature_c += dt_s * (heat_w - (s->temperature_c - p->ambient_c) / p->thermal_resistance_k_per_w)
        / p->heat_capacity_j_per_k;
    kei_pack_measure(s, p, current_a, m);
}
