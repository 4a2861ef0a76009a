/* Pack model (bms_model.md "Pack structure" and steps 1 to 4) against answers worked out here in
 * double from the equations and the fixture's round numbers. */
#include "kei_bms.h"
#include "kei_fixture.h"
#include "kei_test.h"

#include <string.h>

static kei_params_t params_of(const kei_configure_t *c)
{
    kei_ocv_table_t t = fixture_ocv();
    kei_params_t p;
    kei_params_from(c, &t, &p);
    return p;
}

static kei_pack_t pack_at(double soc_t, double soc_w, double temperature_c)
{
    kei_pack_t s;
    memset(&s, 0, sizeof s);
    s.soc_t = (kei_real_t)soc_t;
    s.soc_w = (kei_real_t)soc_w;
    s.temperature_c = (kei_real_t)temperature_c;
    return s;
}

static void test_group_parameters(void)
{
    kei_configure_t c = fixture_configure();
    kei_params_t p = params_of(&c);
    const double keep = 1.0 - FX_SPREAD;
    CHECK_NEAR(p.q_t_ah, FX_CAPACITY_AH * FX_PARALLEL, 1e-6);
    CHECK_NEAR(p.q_w_ah, FX_CAPACITY_AH * FX_PARALLEL * keep, 1e-5);
    CHECK_NEAR(p.r0_t_ohm, FX_R0_OHM / FX_PARALLEL, 1e-9);
    CHECK_NEAR(p.r0_w_ohm, FX_R0_OHM / FX_PARALLEL / keep, 1e-8);
    CHECK_NEAR(p.r1_t_ohm, FX_R1_OHM / FX_PARALLEL, 1e-9);
    CHECK_NEAR(p.r1_w_ohm, FX_R1_OHM / FX_PARALLEL / keep, 1e-8);
}

static void test_ocv_lookup(void)
{
    kei_configure_t c = fixture_configure();
    kei_params_t p = params_of(&c);
    kei_real_t slope;
    CHECK_NEAR(kei_ocv(&p, (kei_real_t)0.8), 3.8, 1e-6);
    CHECK_NEAR(kei_ocv(&p, (kei_real_t)0.525), 3.525, 1e-6);
    CHECK_NEAR(kei_ocv(&p, (kei_real_t)-0.1), 3.0, 1e-7); /* clamped for the lookup */
    CHECK_NEAR(kei_ocv(&p, (kei_real_t)1.3), 4.0, 1e-7);
    CHECK_NEAR(kei_ocv(&p, (kei_real_t)1.0), 4.0, 1e-7);
    /* a bent table: linear within each 5 % segment */
    p.ocv_v[1] = (kei_real_t)3.1;
    p.ocv_v[2] = (kei_real_t)3.3;
    CHECK_NEAR(kei_ocv(&p, (kei_real_t)0.025), 3.05, 1e-6);
    CHECK_NEAR(kei_ocv(&p, (kei_real_t)0.075), 3.2, 1e-6);
    CHECK_NEAR(kei_ocv_inverse(&p, (kei_real_t)3.2, &slope), 0.075, 1e-6);
    CHECK_NEAR(slope, (3.3 - 3.1) / 0.05, 1e-4);
    /* on a knot the lower segment counts (ocv[i] < v <= ocv[i + 1]) */
    CHECK_NEAR(kei_ocv_inverse(&p, p.ocv_v[1], &slope), 0.05, 1e-6);
    CHECK_NEAR(slope, (3.1 - 3.0) / 0.05, 1e-4);
    /* the linear table inverts to itself, slope 1 V per unit SOC */
    p = params_of(&c);
    CHECK_NEAR(kei_ocv_inverse(&p, (kei_real_t)3.525, &slope), 0.525, 1e-6);
    CHECK_NEAR(slope, 1.0, 1e-4);
    CHECK_NEAR(kei_ocv_inverse(&p, (kei_real_t)2.5, &slope), 0.0, 0);
    CHECK_NEAR(slope, 1.0, 1e-4);
    CHECK_NEAR(kei_ocv_inverse(&p, (kei_real_t)4.5, &slope), 1.0, 0);
}

/* Constant current drains I t / 3600 Ah from each group; the weakest (less capacity) faster. */
static void test_constant_current_drain(void)
{
    const double current_a = 10.0, dt_s = 2.0;
    const int steps = 1800; /* one hour */
    kei_configure_t c = fixture_configure();
    kei_params_t p = params_of(&c);
    kei_pack_t s = pack_at(0.8, 0.8, 25.0);
    kei_meas_t m;
    const double ah = current_a * dt_s * steps / 3600.0;
    int k;
    for (k = 0; k < steps; k++) {
        kei_pack_step(&s, &p, (kei_real_t)dt_s, (kei_real_t)current_a, &m);
    }
    CHECK_NEAR(s.soc_t, 0.8 - ah / (FX_CAPACITY_AH * FX_PARALLEL), TOL(1e-4, 1e-7));
    CHECK_NEAR(s.soc_w, 0.8 - ah / (FX_CAPACITY_AH * FX_PARALLEL * (1 - FX_SPREAD)), TOL(1e-4, 1e-7));
    /* SOC is never clamped: keep going past empty */
    for (k = 0; k < steps; k++) {
        kei_pack_step(&s, &p, (kei_real_t)dt_s, (kei_real_t)current_a, &m);
    }
    CHECK(s.soc_w < 0);
    CHECK_NEAR(m.soc_w, s.soc_w, 0);
}

/* The RC branch: from rest at constant current, vrc = R1 I (1 - exp(-t / tau)) whatever the step
 * length (the update is the exact solution over a step); at zero current it decays. */
static void test_rc_branch(void)
{
    const double current_a = 20.0;
    const double r1_t = FX_R1_OHM / FX_PARALLEL, r0_t = FX_R0_OHM / FX_PARALLEL;
    const double r1_w = r1_t / (1 - FX_SPREAD), r0_w = r0_t / (1 - FX_SPREAD);
    kei_configure_t c = fixture_configure();
    kei_params_t p = params_of(&c);
    const double dts[] = {1.0, 0.5, 7.0};
    size_t j;
    for (j = 0; j < sizeof dts / sizeof dts[0]; j++) {
        kei_pack_t s = pack_at(0.8, 0.8, 25.0);
        kei_meas_t m;
        double t = 0, soc_t, soc_w, vrc_t, vrc_w;
        int k;
        for (k = 0; k < 14; k++) {
            kei_pack_step(&s, &p, (kei_real_t)dts[j], (kei_real_t)current_a, &m);
            t += dts[j];
        }
        vrc_t = r1_t * current_a * (1 - exp(-t / FX_TAU_S));
        vrc_w = r1_w * current_a * (1 - exp(-t / FX_TAU_S));
        soc_t = 0.8 - current_a * t / 3600.0 / (FX_CAPACITY_AH * FX_PARALLEL);
        soc_w = 0.8 - current_a * t / 3600.0 / (FX_CAPACITY_AH * FX_PARALLEL * (1 - FX_SPREAD));
        CHECK_NEAR(s.vrc_t_v, vrc_t, 1e-6);
        CHECK_NEAR(s.vrc_w_v, vrc_w, 1e-6);
        CHECK_NEAR(m.v_t_v, fixture_ocv_v(soc_t) - current_a * r0_t - vrc_t, 1e-5);
        CHECK_NEAR(m.v_w_v, fixture_ocv_v(soc_w) - current_a * r0_w - vrc_w, 1e-5);
        CHECK_NEAR(m.pack_voltage_v, (FX_SERIES - 1) * m.v_t_v + m.v_w_v, 1e-4);
        /* relaxation at zero current */
        kei_pack_step(&s, &p, (kei_real_t)30.0, 0, &m);
        CHECK_NEAR(s.vrc_t_v, vrc_t * exp(-30.0 / FX_TAU_S), 1e-6);
        CHECK_NEAR(m.v_t_v, fixture_ocv_v(soc_t) - vrc_t * exp(-30.0 / FX_TAU_S), 1e-5);
    }
}

/* Power mode: the current that makes E I - R I^2 = P, the smaller root; past the maximum power
 * E^2 / 4R, the maximum-power current E / 2R. */
static void test_power_mode(void)
{
    const double r0_t = FX_R0_OHM / FX_PARALLEL, r0_w = r0_t / (1 - FX_SPREAD);
    const double r = (FX_SERIES - 1) * r0_t + r0_w;
    kei_configure_t c = fixture_configure();
    kei_params_t p = params_of(&c);
    kei_pack_t s = pack_at(0.8, 0.6, 25.0);
    const double powers_w[] = {500.0, 2000.0, -300.0, 0.0};
    double e;
    size_t j;
    s.vrc_t_v = (kei_real_t)0.01;
    s.vrc_w_v = (kei_real_t)0.02;
    e = (FX_SERIES - 1) * (fixture_ocv_v(0.8) - 0.01) + fixture_ocv_v(0.6) - 0.02;
    for (j = 0; j < sizeof powers_w / sizeof powers_w[0]; j++) {
        const double pw = powers_w[j];
        const double want = (e - sqrt(e * e - 4 * r * pw)) / (2 * r); /* textbook root form */
        const double got = kei_pack_current_for_power(&s, &p, (kei_real_t)pw);
        CHECK_NEAR(got, want, fabs(want) * 1e-5 + 1e-6);
        CHECK_NEAR(e * got - r * got * got, pw, fabs(pw) * 1e-5 + 1e-4);
    }
    CHECK_NEAR(kei_pack_current_for_power(&s, &p, (kei_real_t)(e * e / (4 * r) * 1.5)), e / (2 * r), e / (2 * r) * 1e-5);
}

static void test_thermal(void)
{
    const double r0_t = FX_R0_OHM / FX_PARALLEL, r1_t = FX_R1_OHM / FX_PARALLEL;
    const double r_all = (FX_SERIES - 1) * (r0_t + r1_t) + (r0_t + r1_t) / (1 - FX_SPREAD);
    kei_configure_t c = fixture_configure();
    kei_params_t p = params_of(&c);
    kei_pack_t s = pack_at(0.8, 0.8, 30.0);
    kei_meas_t m;
    /* explicit Euler from T = 30 C, ambient 25 C, 2000 J/K, 2 K/W */
    const double want = 30.0 + 10.0 * (30.0 * 30.0 * r_all - (30.0 - 25.0) / 2.0) / 2000.0;
    kei_pack_step(&s, &p, 10, 30, &m);
    CHECK_NEAR(s.temperature_c, want, 1e-5);
    CHECK_NEAR(m.temperature_c, want, 1e-5);
}

static void test_single_group(void)
{
    kei_configure_t c = fixture_configure();
    kei_params_t p;
    kei_pack_t s = pack_at(0.9, 0.5, 25.0); /* the typical state is ignored when series == 1 */
    kei_meas_t m;
    const double r0_w = FX_R0_OHM / FX_PARALLEL / (1 - FX_SPREAD);
    double e;
    c.series = 1;
    p = params_of(&c);
    kei_pack_measure(&s, &p, 10, &m);
    CHECK_NEAR(m.v_w_v, 3.5 - 10 * r0_w, 1e-6);
    CHECK_NEAR(m.v_t_v, m.v_w_v, 0);
    CHECK_NEAR(m.pack_voltage_v, m.v_w_v, 0);
    CHECK_NEAR(m.soc_t, 0.5, 0);
    e = fixture_ocv_v(0.5);
    CHECK_NEAR(kei_pack_current_for_power(&s, &p, 35), (e - sqrt(e * e - 4 * r0_w * 35)) / (2 * r0_w), 1e-4);
}

int main(void)
{
    test_group_parameters();
    test_ocv_lookup();
    test_constant_current_drain();
    test_rc_branch();
    test_power_mode();
    test_thermal();
    test_single_group();
    return kt_summary("test_pack");
}
