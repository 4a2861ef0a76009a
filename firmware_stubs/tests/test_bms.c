/* BMS logic (bms_model.md steps 3, 5 to 7): debounce to the step, latching, the FAULT's group and
 * value, derating to zero, OCV correction gated by rest and slope, the sensor gain, energy. */
#include "kei_bms.h"
#include "kei_fixture.h"
#include "kei_test.h"

#include <string.h>

static kei_params_t fx_params(void)
{
    kei_configure_t c = fixture_configure();
    kei_ocv_table_t t = fixture_ocv();
    kei_params_t p;
    kei_params_from(&c, &t, &p);
    return p;
}

static kei_bms_t fresh_bms(double soc_est)
{
    kei_bms_t b;
    memset(&b, 0, sizeof b);
    b.contactor = 1;
    b.soc_est = (kei_real_t)soc_est;
    return b;
}

/* A measurement with all conditions clear: mid voltages, no current, ambient temperature. */
static kei_meas_t calm(void)
{
    kei_meas_t m;
    memset(&m, 0, sizeof m);
    m.v_t_v = (kei_real_t)3.7;
    m.v_w_v = (kei_real_t)3.6;
    m.pack_voltage_v = (kei_real_t)(3 * 3.7 + 3.6);
    m.temperature_c = 25;
    m.soc_t = (kei_real_t)0.7;
    m.soc_w = (kei_real_t)0.6;
    m.current_a = 5; /* not at rest */
    return m;
}

/* Debounce 2 s at dt 0.5 s: the 4th step in a row latches, not the 3rd; a break restarts it. */
static void test_debounce_exact(void)
{
    kei_params_t p = fx_params();
    kei_bms_t b = fresh_bms(0.5);
    kei_fault_event_t ev[KEI_FAULT_COUNT];
    kei_meas_t low = calm(), ok = calm();
    int k;
    low.v_w_v = (kei_real_t)3.05; /* below cell_uv_v = 3.1 */
    for (k = 0; k < 3; k++) {
        CHECK_EQ_INT(kei_bms_update(&b, &p, &low, (kei_real_t)0.5, ev), 0);
    }
    CHECK_EQ_INT(kei_bms_update(&b, &p, &ok, (kei_real_t)0.5, ev), 0); /* the break */
    for (k = 0; k < 3; k++) {
        CHECK_EQ_INT(kei_bms_update(&b, &p, &low, (kei_real_t)0.5, ev), 0);
    }
    CHECK_EQ_INT(b.fault_flags, 0);
    CHECK_EQ_INT(b.contactor, 1);
    CHECK_EQ_INT(kei_bms_update(&b, &p, &low, (kei_real_t)0.5, ev), 1);
    CHECK_EQ_INT(ev[0].bit, KEI_FAULT_UNDERVOLTAGE);
    CHECK_EQ_INT(ev[0].group, KEI_GROUP_WEAKEST);
    CHECK_NEAR(ev[0].value, 3.05, 1e-6);
    CHECK_EQ_INT(b.fault_flags, KEI_FAULT_UNDERVOLTAGE);
    CHECK_EQ_INT(b.contactor, 0);
}

/* Latched stays latched when the condition clears, is reported once, and allows nothing. */
static void test_latching(void)
{
    kei_params_t p = fx_params();
    kei_bms_t b = fresh_bms(0.5);
    kei_fault_event_t ev[KEI_FAULT_COUNT];
    kei_meas_t hot = calm(), ok = calm();
    kei_real_t dis, chg;
    hot.temperature_c = 61; /* over temp_max_c = 60, debounce 5 s */
    CHECK_EQ_INT(kei_bms_update(&b, &p, &hot, 5, ev), 1);
    CHECK_EQ_INT(ev[0].bit, KEI_FAULT_OVERTEMPERATURE);
    CHECK_EQ_INT(ev[0].group, KEI_GROUP_PACK);
    CHECK_NEAR(ev[0].value, 61, 0);
    CHECK_EQ_INT(kei_bms_update(&b, &p, &hot, 5, ev), 0); /* not again */
    CHECK_EQ_INT(kei_bms_update(&b, &p, &ok, 5, ev), 0);
    CHECK_EQ_INT(b.fault_flags, KEI_FAULT_OVERTEMPERATURE);
    CHECK_EQ_INT(b.contactor, 0);
    kei_bms_allowed(&b, &p, &ok, &dis, &chg);
    CHECK_NEAR(dis, 0, 0);
    CHECK_NEAR(chg, 0, 0);
}

/* Several faults on one step come out in bit order, each with its group and value. */
static void test_fault_order_and_groups(void)
{
    kei_params_t p = fx_params();
    kei_bms_t b = fresh_bms(0.5);
    kei_fault_event_t ev[KEI_FAULT_COUNT];
    kei_meas_t m = calm();
    int n;
    p.debounce_s[0] = p.debounce_s[2] = p.debounce_s[4] = 0;
    m.v_t_v = (kei_real_t)3.0; /* the typical group is the lower one */
    m.v_w_v = (kei_real_t)3.05;
    m.current_a = 61;          /* > 1.5 x 40 A */
    m.temperature_c = 70;
    m.soc_w = 0;               /* EMPTY, no debounce */
    n = kei_bms_update(&b, &p, &m, 1, ev);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(ev[0].bit, KEI_FAULT_UNDERVOLTAGE);
    CHECK_EQ_INT(ev[0].group, KEI_GROUP_TYPICAL);
    CHECK_NEAR(ev[0].value, 3.0, 1e-6);
    CHECK_EQ_INT(ev[1].bit, KEI_FAULT_OVERCURRENT_DISCHARGE);
    CHECK_NEAR(ev[1].value, 61, 0);
    CHECK_EQ_INT(ev[2].bit, KEI_FAULT_OVERTEMPERATURE);
    CHECK_EQ_INT(ev[3].bit, KEI_FAULT_EMPTY);
    CHECK_EQ_INT(ev[3].group, KEI_GROUP_WEAKEST);

    /* over-voltage: the higher group; a tie goes to the weakest */
    b = fresh_bms(0.5);
    m = calm();
    p.debounce_s[1] = 0;
    m.v_t_v = (kei_real_t)4.15;
    m.v_w_v = (kei_real_t)4.12;
    CHECK_EQ_INT(kei_bms_update(&b, &p, &m, 1, ev), 1);
    CHECK_EQ_INT(ev[0].bit, KEI_FAULT_OVERVOLTAGE);
    CHECK_EQ_INT(ev[0].group, KEI_GROUP_TYPICAL);
    b = fresh_bms(0.5);
    m.v_w_v = m.v_t_v;
    CHECK_EQ_INT(kei_bms_update(&b, &p, &m, 1, ev), 1);
    CHECK_EQ_INT(ev[0].group, KEI_GROUP_WEAKEST);

    /* over-current on charge: -I > 1.5 x 20 A for 1 s; exactly at the limit is not over */
    b = fresh_bms(0.5);
    m = calm();
    m.current_a = -30;
    CHECK_EQ_INT(kei_bms_update(&b, &p, &m, 1, ev), 0);
    m.current_a = -31;
    CHECK_EQ_INT(kei_bms_update(&b, &p, &m, (kei_real_t)0.5, ev), 0);
    CHECK_EQ_INT(kei_bms_update(&b, &p, &m, (kei_real_t)0.5, ev), 1);
    CHECK_EQ_INT(ev[0].bit, KEI_FAULT_OVERCURRENT_CHARGE);
    CHECK_NEAR(ev[0].value, -31, 0);

    /* EMPTY from the typical group when only it is empty; NaN (hardware) never trips */
    b = fresh_bms(0.5);
    m = calm();
    m.soc_t = (kei_real_t)-0.001;
    CHECK_EQ_INT(kei_bms_update(&b, &p, &m, 1, ev), 1);
    CHECK_EQ_INT(ev[0].group, KEI_GROUP_TYPICAL);
    b = fresh_bms(0.5);
    m.soc_t = m.soc_w = (kei_real_t)NAN;
    CHECK_EQ_INT(kei_bms_update(&b, &p, &m, 1, ev), 0);
}

/* Trapezoid derating on the no-load voltages and on temperature, down to zero. */
static void test_derating(void)
{
    const double r0_w = FX_R0_OHM / FX_PARALLEL / (1 - FX_SPREAD), r0_t = FX_R0_OHM / FX_PARALLEL;
    kei_params_t p = fx_params();
    kei_bms_t b = fresh_bms(0.5);
    kei_meas_t m = calm();
    kei_real_t dis, chg;
    /* weakest group at 3.15 V under 10 A: no-load 3.15 + 10 R0_w; window 0.2 V above 3.1 V */
    m.current_a = 10;
    m.v_w_v = (kei_real_t)3.15;
    m.v_t_v = (kei_real_t)3.9; /* no-load 3.9 + 10 R0_t, 0.2 - (that - 3.9) below 4.1 V */
    kei_bms_allowed(&b, &p, &m, &dis, &chg);
    CHECK_NEAR(dis, 40.0 * (3.15 + 10 * r0_w - 3.1) / 0.2, 1e-4);
    CHECK_NEAR(chg, 20.0 * (4.1 - (3.9 + 10 * r0_t)) / 0.2, 1e-4);
    /* at and below the threshold: zero, never negative */
    m.current_a = 0;
    m.v_w_v = p.cell_uv_v;
    kei_bms_allowed(&b, &p, &m, &dis, &chg);
    CHECK_NEAR(dis, 0, 0);
    m.v_w_v = (kei_real_t)2.9;
    kei_bms_allowed(&b, &p, &m, &dis, &chg);
    CHECK_NEAR(dis, 0, 0);
    /* far from the limits: the full currents */
    m = calm();
    m.current_a = 0;
    kei_bms_allowed(&b, &p, &m, &dis, &chg);
    CHECK_NEAR(dis, 40, 0);
    CHECK_NEAR(chg, 20, 0);
    /* temperature: linear from 45 C (full) to 60 C (zero), the smaller factor wins */
    m.temperature_c = (kei_real_t)52.5;
    kei_bms_allowed(&b, &p, &m, &dis, &chg);
    CHECK_NEAR(dis, 20, 1e-4);
    CHECK_NEAR(chg, 10, 1e-4);
    m.temperature_c = 60;
    kei_bms_allowed(&b, &p, &m, &dis, &chg);
    CHECK_NEAR(dis, 0, 0);
    CHECK_NEAR(chg, 0, 0);
    m.temperature_c = 0; /* cold: no derating in this model */
    kei_bms_allowed(&b, &p, &m, &dis, &chg);
    CHECK_NEAR(dis, 40, 0);
}

/* At rest (|I| < 0.5 A) for 60 s, the estimate moves half way to the OCV reading, once per rest;
 * never where the table's segment is flatter than ocv_min_slope_v. */
static void test_ocv_correction(void)
{
    kei_params_t p = fx_params();
    kei_bms_t b = fresh_bms(0.8);
    kei_fault_event_t ev[KEI_FAULT_COUNT];
    kei_meas_t m = calm();
    double est = 0.8;
    int k;
    m.current_a = (kei_real_t)0.1;
    m.pack_voltage_v = (kei_real_t)(FX_SERIES * 3.6); /* OCV reading: SOC 0.6 */
    for (k = 1; k <= 6; k++) {
        kei_bms_update(&b, &p, &m, 10, ev);
        est -= 0.1 * 10 / (3600.0 * FX_CAPACITY_AH * FX_PARALLEL);
        if (k == 6) {
            est += 0.5 * (0.6 - est); /* rest_s reached 60 s */
        }
        CHECK_NEAR(b.soc_est, est, 1e-6);
    }
    kei_bms_update(&b, &p, &m, 10, ev); /* still at rest: no second correction */
    est -= 0.1 * 10 / (3600.0 * FX_CAPACITY_AH * FX_PARALLEL);
    CHECK_NEAR(b.soc_est, est, 1e-6);
    /* a load ends the rest; the next full rest corrects again */
    m.current_a = 1;
    kei_bms_update(&b, &p, &m, 10, ev);
    est -= 1.0 * 10 / (3600.0 * FX_CAPACITY_AH * FX_PARALLEL);
    m.current_a = 0;
    for (k = 0; k < 5; k++) {
        kei_bms_update(&b, &p, &m, 10, ev);
    }
    CHECK_NEAR(b.soc_est, est, 1e-6);
    kei_bms_update(&b, &p, &m, 10, ev);
    est += 0.5 * (0.6 - est);
    CHECK_NEAR(b.soc_est, est, 1e-6);

    /* a flat segment (20 mV per 5 %: 0.4 V per unit SOC < 0.5): no correction */
    b = fresh_bms(0.8);
    p.ocv_v[12] = p.ocv_v[11] + (kei_real_t)0.02;
    m.pack_voltage_v = (kei_real_t)(FX_SERIES * (p.ocv_v[11] + (kei_real_t)0.01));
    for (k = 0; k < 10; k++) {
        kei_bms_update(&b, &p, &m, 10, ev);
    }
    CHECK_NEAR(b.soc_est, (kei_real_t)0.8, 0);
}

static void test_sensor_gain_and_energy(void)
{
    kei_params_t p = fx_params();
    kei_bms_t b = fresh_bms(0.8);
    kei_fault_event_t ev[KEI_FAULT_COUNT];
    kei_meas_t m = calm();
    p.current_sensor_gain = (kei_real_t)1.02;
    m.current_a = 10;
    m.pack_voltage_v = (kei_real_t)14.5;
    kei_bms_update(&b, &p, &m, 100, ev);
    CHECK_NEAR(b.soc_est, 0.8 - 10 * 1.02 * 100 / (3600.0 * FX_CAPACITY_AH * FX_PARALLEL), 1e-6);
    CHECK_NEAR(b.energy_out_wh, 14.5 * 10 * 100 / 3600.0, 1e-5);
    m.current_a = -4; /* charging brings energy back */
    kei_bms_update(&b, &p, &m, 100, ev);
    CHECK_NEAR(b.energy_out_wh, 14.5 * (10 - 4) * 100 / 3600.0, 1e-5);
}

int main(void)
{
    test_debounce_exact();
    test_latching();
    test_fault_order_and_groups();
    test_derating();
    test_ocv_correction();
    test_sensor_gain_and_energy();
    return kt_summary("test_bms");
}
