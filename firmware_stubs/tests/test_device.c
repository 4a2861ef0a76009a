/* Message handling (protocol.md sections 2 to 4) through the byte interface: frames in one byte at
 * a time, frames out through the write callback, decoded here with the frame codec. */
#include "kei_bms.h"
#include "kei_fixture.h"
#include "kei_test.h"

#include <string.h>

#define MAX_OUT 64

typedef struct {
    uint8_t type;
    uint16_t seq;
    uint8_t payload[KEI_LEN_CONFIGURE];
    size_t len;
} msg_t;

/* Everything the device wrote, decoded as it arrives. */
typedef struct {
    kei_decoder_t rx;
    msg_t msgs[MAX_OUT];
    int n;
    int bad; /* frames from the device that did not decode */
} capture_t;

static void capture_write(void *ctx, const uint8_t *data, size_t len)
{
    capture_t *c = (capture_t *)ctx;
    size_t i;
    for (i = 0; i < len; i++) {
        enum kei_decode_result r = kei_decoder_feed(&c->rx, data[i]);
        if (r == KEI_DECODE_FRAME && c->n < MAX_OUT) {
            msg_t *m = &c->msgs[c->n++];
            m->type = c->rx.body[0];
            m->seq = kei_get_u16(c->rx.body + 1);
            m->len = c->rx.len - KEI_MIN_BODY;
            memcpy(m->payload, c->rx.body + KEI_HEADER_LEN, m->len);
        } else if (r != KEI_DECODE_NONE) {
            c->bad++;
        }
    }
}

static capture_t cap;
static kei_device_t dev;

static void boot(int configured)
{
    kei_configure_t c = fixture_configure();
    kei_ocv_table_t t = fixture_ocv();
    kei_io_t io;
    memset(&cap, 0, sizeof cap);
    kei_decoder_init(&cap.rx);
    memset(&io, 0, sizeof io);
    io.write = capture_write;
    io.ctx = &cap;
    kei_device_init(&dev, &io, 0xC0FFEEu, configured ? &c : NULL, configured ? &t : NULL);
}

/* Send one request as a frame, byte by byte; return how many frames came back. */
static int request(uint8_t type, uint16_t seq, const uint8_t *payload, size_t len)
{
    uint8_t msg[KEI_HEADER_LEN + KEI_LEN_CONFIGURE + 4], wire[KEI_WIRE_MAX(KEI_MAX_BODY)];
    size_t n, i;
    cap.n = 0;
    msg[0] = type;
    kei_put_u16(msg + 1, seq);
    if (len) {
        memcpy(msg + KEI_HEADER_LEN, payload, len);
    }
    n = kei_frame_encode(msg, KEI_HEADER_LEN + len, wire, sizeof wire);
    for (i = 0; i < n; i++) {
        kei_device_feed(&dev, wire[i]);
    }
    return cap.n;
}

static int step(uint16_t seq, float dt_s, uint8_t mode, float demand)
{
    uint8_t p[KEI_LEN_STEP];
    kei_step_t s;
    s.dt_s = dt_s;
    s.mode = mode;
    s.demand = demand;
    kei_encode_step(&s, p);
    return request(KEI_MSG_STEP, seq, p, sizeof p);
}

static int configure(const kei_configure_t *c)
{
    uint8_t p[KEI_LEN_CONFIGURE];
    kei_encode_configure(c, p);
    return request(KEI_MSG_CONFIGURE, 77, p, sizeof p);
}

static int ocv_table(const kei_ocv_table_t *t)
{
    uint8_t p[KEI_LEN_OCV_TABLE];
    kei_encode_ocv_table(t, p);
    return request(KEI_MSG_OCV_TABLE, 78, p, sizeof p);
}

/* The single answer was a NACK of `type` for `reason`, expecting `expected`. */
static int is_nack(const msg_t *m, uint8_t type, uint8_t reason, uint16_t expected)
{
    kei_nack_t n;
    if (m->type != KEI_MSG_NACK || m->len != KEI_LEN_NACK) {
        return 0;
    }
    kei_decode_nack(m->payload, &n);
    return n.rejected_type == type && n.reason == reason && n.expected_seq == expected;
}

static int is_ack(const msg_t *m, uint8_t type, uint16_t seq)
{
    return m->type == KEI_MSG_ACK && m->seq == seq && m->len == KEI_LEN_ACK && m->payload[0] == type && m->payload[1] == 0;
}

static kei_telemetry_t telemetry_of(const msg_t *m)
{
    kei_telemetry_t t;
    memset(&t, 0, sizeof t);
    CHECK_EQ_INT(m->type, KEI_MSG_TELEMETRY);
    CHECK_EQ_INT(m->len, KEI_LEN_TELEMETRY);
    kei_decode_telemetry(m->payload, &t);
    return t;
}

static kei_hello_ack_t hello(void)
{
    kei_hello_ack_t h;
    memset(&h, 0, sizeof h);
    CHECK_EQ_INT(request(KEI_MSG_HELLO, 4242, NULL, 0), 1);
    CHECK_EQ_INT(cap.msgs[0].type, KEI_MSG_HELLO_ACK);
    CHECK_EQ_INT(cap.msgs[0].seq, 4242);
    kei_decode_hello_ack(cap.msgs[0].payload, &h);
    return h;
}

static kei_telemetry_t status(void)
{
    CHECK_EQ_INT(request(KEI_MSG_STATUS, 999, NULL, 0), 1);
    return telemetry_of(&cap.msgs[0]);
}

static void test_hello_and_configuration(void)
{
    kei_configure_t c = fixture_configure();
    kei_ocv_table_t t = fixture_ocv();
    kei_hello_ack_t h;
    kei_telemetry_t tm;
    boot(0);
    h = hello();
    CHECK_EQ_INT(h.protocol_version, 1);
    CHECK_EQ_INT(h.device_kind, 1);
    CHECK_EQ_INT(h.device_id, 0xC0FFEEu);
    CHECK_EQ_INT(h.window, 16);
    CHECK_EQ_INT(h.configured, 0);
    CHECK_EQ_INT(h.last_seq, 0);
    CHECK_EQ_INT(h.max_series, KEI_MAX_SERIES);
    CHECK(memcmp(h.firmware, "kei-c\0", 6) == 0);
    /* nothing runs before both configuration messages */
    CHECK_EQ_INT(step(1, 1, 0, 10), 1);
    CHECK(is_nack(&cap.msgs[0], KEI_MSG_STEP, KEI_NACK_NOT_CONFIGURED, 1));
    CHECK_EQ_INT(request(KEI_MSG_STATUS, 5, NULL, 0), 1);
    CHECK(is_nack(&cap.msgs[0], KEI_MSG_STATUS, KEI_NACK_NOT_CONFIGURED, 1));
    c.last_seq = 9; /* the sequence state starts once the device is configured */
    CHECK_EQ_INT(configure(&c), 1);
    CHECK(is_ack(&cap.msgs[0], KEI_MSG_CONFIGURE, 77));
    h = hello();
    CHECK_EQ_INT(h.configured, 0);
    CHECK_EQ_INT(h.last_seq, 0);
    CHECK_EQ_INT(step(10, 1, 0, 10), 1);
    CHECK(is_nack(&cap.msgs[0], KEI_MSG_STEP, KEI_NACK_NOT_CONFIGURED, 1));
    c.last_seq = 0;
    CHECK_EQ_INT(configure(&c), 1);
    CHECK_EQ_INT(ocv_table(&t), 1);
    CHECK(is_ack(&cap.msgs[0], KEI_MSG_OCV_TABLE, 78));
    CHECK_EQ_INT(hello().configured, 1);
    /* at rest: the group voltages are the OCV, the allowed currents those of step 7 at I = 0 */
    tm = status();
    CHECK_EQ_INT(cap.msgs[0].seq, 0);
    CHECK_EQ_INT(tm.step_count, 0);
    CHECK_NEAR(tm.pack_voltage_v, FX_SERIES * 3.8, 1e-5);
    CHECK_NEAR(tm.cell_v_min_v, 3.8, 1e-6);
    CHECK_NEAR(tm.pack_current_a, 0, 0);
    CHECK_NEAR(tm.allowed_discharge_a, 40, 0);
    CHECK_NEAR(tm.allowed_charge_a, 20.0 * (4.1 - 3.8) / 0.2 > 20 ? 20 : 20.0 * (4.1 - 3.8) / 0.2, 1e-4);
    CHECK_EQ_INT(tm.contactor, 1);
    /* a compiled-in configuration boots configured */
    boot(1);
    CHECK_EQ_INT(hello().configured, 1);
}

/* STEP n+1 applies; a retransmission inside the window returns the cached answer and is not
 * applied again (even with another demand); anything else is NACKed with the expected seq. */
static void test_sequencing(void)
{
    uint8_t answer3[KEI_LEN_TELEMETRY];
    kei_telemetry_t tm;
    double soc_after_5;
    uint16_t s;
    boot(1);
    for (s = 1; s <= 5; s++) {
        CHECK_EQ_INT(step(s, 1, 0, 10), 1);
        CHECK_EQ_INT(cap.msgs[0].seq, s);
        CHECK_EQ_INT(telemetry_of(&cap.msgs[0]).step_count, s);
        if (s == 3) {
            memcpy(answer3, cap.msgs[0].payload, sizeof answer3);
        }
    }
    soc_after_5 = status().soc_true;
    CHECK_NEAR(soc_after_5, 0.8 - 10.0 * 5 / 3600.0 / (FX_CAPACITY_AH * FX_PARALLEL), 1e-6);
    CHECK_EQ_INT(step(3, 1, 0, 500), 1); /* retransmission, different demand: not applied */
    CHECK_EQ_INT(cap.msgs[0].seq, 3);
    CHECK(memcmp(cap.msgs[0].payload, answer3, sizeof answer3) == 0);
    CHECK_EQ_INT(step(5, 1, 0, 500), 1); /* the last applied one */
    CHECK_EQ_INT(telemetry_of(&cap.msgs[0]).step_count, 5);
    tm = status();
    CHECK_EQ_INT(tm.step_count, 5);
    CHECK_NEAR(tm.soc_true, soc_after_5, 0);
    /* a gap: NACK OUT_OF_ORDER naming the step to resend; then go-back-N recovers */
    CHECK_EQ_INT(step(7, 1, 0, 10), 1);
    CHECK(is_nack(&cap.msgs[0], KEI_MSG_STEP, KEI_NACK_OUT_OF_ORDER, 6));
    CHECK_EQ_INT(cap.msgs[0].seq, 7);
    CHECK_EQ_INT(step(6, 1, 0, 10), 1);
    CHECK_EQ_INT(telemetry_of(&cap.msgs[0]).step_count, 6);
    CHECK_EQ_INT(step(7, 1, 0, 10), 1);
    CHECK_EQ_INT(telemetry_of(&cap.msgs[0]).step_count, 7);
    /* further back than the window: not in the cache, NACK */
    for (s = 8; s <= 30; s++) {
        step(s, 1, 0, 10);
    }
    CHECK_EQ_INT(step(30 - KEI_WINDOW + 1, 1, 0, 10), 1); /* oldest still cached */
    CHECK_EQ_INT(cap.msgs[0].type, KEI_MSG_TELEMETRY);
    CHECK_EQ_INT(step(30 - KEI_WINDOW, 1, 0, 10), 1);
    CHECK(is_nack(&cap.msgs[0], KEI_MSG_STEP, KEI_NACK_OUT_OF_ORDER, 31));
    CHECK_EQ_INT(status().step_count, 30);
    /* bad values are refused and not applied */
    CHECK_EQ_INT(step(31, 0, 0, 10), 1);
    CHECK(is_nack(&cap.msgs[0], KEI_MSG_STEP, KEI_NACK_BAD_VALUE, 31));
    CHECK_EQ_INT(step(31, 60.5f, 0, 10), 1);
    CHECK(is_nack(&cap.msgs[0], KEI_MSG_STEP, KEI_NACK_BAD_VALUE, 31));
    CHECK_EQ_INT(step(31, 1, 2, 10), 1);
    CHECK(is_nack(&cap.msgs[0], KEI_MSG_STEP, KEI_NACK_BAD_VALUE, 31));
    CHECK_EQ_INT(step(31, 1, 0, (float)INFINITY), 1);
    CHECK(is_nack(&cap.msgs[0], KEI_MSG_STEP, KEI_NACK_BAD_VALUE, 31));
    CHECK_EQ_INT(step(31, (float)NAN, 0, 1), 1);
    CHECK(is_nack(&cap.msgs[0], KEI_MSG_STEP, KEI_NACK_BAD_VALUE, 31));
    CHECK_EQ_INT(step(31, 60, 0, 0), 1); /* 60 s is allowed */
    CHECK_EQ_INT(telemetry_of(&cap.msgs[0]).step_count, 31);
}

/* seq wraps modulo 65536, and CONFIGURE restores last_seq/step_count onto a fresh device. */
static void test_wrap_and_restore(void)
{
    kei_configure_t c = fixture_configure();
    kei_hello_ack_t h;
    boot(1);
    c.last_seq = 65534;
    c.step_count = 100;
    c.energy_out_wh = 12.5f;
    CHECK_EQ_INT(configure(&c), 1);
    h = hello();
    CHECK_EQ_INT(h.last_seq, 65534);
    CHECK_EQ_INT(h.step_count, 100);
    CHECK_EQ_INT(step(65534, 1, 0, 1), 1); /* applied before the restore: no longer cached */
    CHECK(is_nack(&cap.msgs[0], KEI_MSG_STEP, KEI_NACK_OUT_OF_ORDER, 65535));
    CHECK_EQ_INT(step(65535, 1, 0, 1), 1);
    CHECK_EQ_INT(telemetry_of(&cap.msgs[0]).step_count, 101);
    CHECK_EQ_INT(step(0, 1, 0, 1), 1);
    CHECK_EQ_INT(telemetry_of(&cap.msgs[0]).step_count, 102);
    CHECK_EQ_INT(step(1, 1, 0, 1), 1);
    CHECK_EQ_INT(telemetry_of(&cap.msgs[0]).step_count, 103);
    CHECK_EQ_INT(step(65535, 1, 0, 1), 1); /* behind by 2 across the wrap: cached */
    CHECK_EQ_INT(telemetry_of(&cap.msgs[0]).step_count, 101);
    CHECK(status().energy_out_wh > 12.5f);
    CHECK_EQ_INT(hello().last_seq, 1);
}

/* A protection that latches: FAULT (same seq) before TELEMETRY; the contactor opens; steps still
 * apply at zero current; a retransmission repeats only the TELEMETRY. */
static void test_fault_then_telemetry(void)
{
    kei_configure_t c = fixture_configure();
    kei_fault_t f;
    kei_telemetry_t tm;
    const double r0_w = FX_R0_OHM / FX_PARALLEL / (1 - FX_SPREAD), r1_w = FX_R1_OHM / FX_PARALLEL / (1 - FX_SPREAD);
    const double a = exp(-1.0 / FX_TAU_S);
    const double q_w = FX_CAPACITY_AH * FX_PARALLEL * (1 - FX_SPREAD);
    boot(1);
    c.soc_true = c.soc_weak_true = c.soc_estimate = 0.15f;
    c.debounce_voltage_s = 0;
    CHECK_EQ_INT(configure(&c), 1);
    CHECK_EQ_INT(step(1, 1, 0, 1), 1);  /* 1 A: the weakest group stays above 3.1 V */
    CHECK_EQ_INT(step(2, 1, 0, 55), 2); /* 55 A (under the 60 A over-current): 0.34 V drop */
    CHECK_EQ_INT(cap.msgs[0].type, KEI_MSG_FAULT);
    CHECK_EQ_INT(cap.msgs[0].seq, 2);
    kei_decode_fault(cap.msgs[0].payload, &f);
    CHECK_EQ_INT(f.fault_bit, KEI_FAULT_UNDERVOLTAGE);
    CHECK_EQ_INT(f.group, KEI_GROUP_WEAKEST);
    tm = telemetry_of(&cap.msgs[1]);
    CHECK_EQ_INT(cap.msgs[1].seq, 2);
    CHECK_NEAR(f.value, tm.cell_v_min_v, 0);
    CHECK_NEAR(tm.cell_v_min_v, fixture_ocv_v(0.15 - 56.0 / 3600.0 / q_w) - 55 * r0_w
                   - (a * r1_w * 1 * (1 - a) + r1_w * 55 * (1 - a)), 1e-5);
    CHECK_EQ_INT(tm.fault_flags, KEI_FAULT_UNDERVOLTAGE);
    CHECK_EQ_INT(tm.contactor, 0);
    CHECK_NEAR(tm.allowed_discharge_a, 0, 0);
    CHECK_EQ_INT(step(2, 1, 0, 55), 1); /* retransmission: TELEMETRY only */
    CHECK_EQ_INT(cap.msgs[0].type, KEI_MSG_TELEMETRY);
    CHECK_EQ_INT(step(3, 1, 0, 55), 1); /* applied, at zero current */
    tm = telemetry_of(&cap.msgs[0]);
    CHECK_EQ_INT(tm.step_count, 3);
    CHECK_NEAR(tm.pack_current_a, 0, 0);
    CHECK_EQ_INT(tm.contactor, 0);
    /* RESET 1: faults cleared, contactor closed, seq kept */
    CHECK_EQ_INT(request(KEI_MSG_RESET, 50, (const uint8_t *)"\x01", 1), 1);
    CHECK(is_ack(&cap.msgs[0], KEI_MSG_RESET, 50));
    tm = status();
    CHECK_EQ_INT(tm.fault_flags, 0);
    CHECK_EQ_INT(tm.contactor, 1);
    CHECK_EQ_INT(tm.step_count, 3);
    CHECK_EQ_INT(step(4, 1, 0, -5), 1); /* current flows again (charging: no new UV) */
    CHECK_NEAR(telemetry_of(&cap.msgs[0]).pack_current_a, -5, 0);
    /* RESET 0: back to the CONFIGURE state, seq 0 */
    CHECK_EQ_INT(request(KEI_MSG_RESET, 51, (const uint8_t *)"\x00", 1), 1);
    CHECK(is_ack(&cap.msgs[0], KEI_MSG_RESET, 51));
    tm = status();
    CHECK_EQ_INT(cap.msgs[0].seq, 0);
    CHECK_EQ_INT(tm.step_count, 0);
    CHECK_NEAR(tm.soc_true, 0.15f, 0);
    CHECK_NEAR(tm.energy_out_wh, 0, 0);
    CHECK_EQ_INT(step(1, 1, 0, 5), 1);
    CHECK_EQ_INT(telemetry_of(&cap.msgs[0]).step_count, 1);
    CHECK_EQ_INT(request(KEI_MSG_RESET, 52, (const uint8_t *)"\x02", 1), 1);
    CHECK(is_nack(&cap.msgs[0], KEI_MSG_RESET, KEI_NACK_BAD_VALUE, 2));
    /* STOP opens the contactor; steps go on at zero current */
    CHECK_EQ_INT(request(KEI_MSG_STOP, 53, NULL, 0), 1);
    CHECK(is_ack(&cap.msgs[0], KEI_MSG_STOP, 53));
    CHECK_EQ_INT(step(2, 1, 0, 5), 1);
    tm = telemetry_of(&cap.msgs[0]);
    CHECK_EQ_INT(tm.contactor, 0);
    CHECK_NEAR(tm.pack_current_a, 0, 0);
    CHECK_NEAR(tm.allowed_discharge_a, 0, 0);
}

static void test_bad_messages(void)
{
    kei_configure_t good = fixture_configure(), c;
    kei_ocv_table_t t = fixture_ocv();
    uint8_t p[KEI_LEN_CONFIGURE + 1];
    int i;
    boot(1);
    memset(p, 0, sizeof p);
    CHECK_EQ_INT(request(KEI_MSG_STEP, 1, p, KEI_LEN_STEP - 1), 1);
    CHECK(is_nack(&cap.msgs[0], KEI_MSG_STEP, KEI_NACK_BAD_LENGTH, 1));
    CHECK_EQ_INT(request(KEI_MSG_HELLO, 2, p, 1), 1);
    CHECK(is_nack(&cap.msgs[0], KEI_MSG_HELLO, KEI_NACK_BAD_LENGTH, 1));
    CHECK_EQ_INT(request(KEI_MSG_CONFIGURE, 3, p, KEI_LEN_CONFIGURE + 1), 1);
    CHECK(is_nack(&cap.msgs[0], KEI_MSG_CONFIGURE, KEI_NACK_BAD_LENGTH, 1));
    CHECK_EQ_INT(request(0x09, 4, NULL, 0), 1);
    CHECK(is_nack(&cap.msgs[0], 0x09, KEI_NACK_UNKNOWN_TYPE, 1));
    CHECK_EQ_INT(request(KEI_MSG_TELEMETRY, 5, p, KEI_LEN_TELEMETRY), 1); /* a device's message */
    CHECK(is_nack(&cap.msgs[0], KEI_MSG_TELEMETRY, KEI_NACK_UNKNOWN_TYPE, 1));
    CHECK_EQ_INT(request(KEI_MSG_TELEMETRY, 5, p, KEI_LEN_TELEMETRY - 1), 1); /* known type, wrong length */
    CHECK(is_nack(&cap.msgs[0], KEI_MSG_TELEMETRY, KEI_NACK_BAD_LENGTH, 1));
    CHECK_EQ_INT(request(0x00, 6, NULL, 0), 1);
    CHECK(is_nack(&cap.msgs[0], 0x00, KEI_NACK_UNKNOWN_TYPE, 1));
    /* CONFIGURE out of range: NACK BAD_VALUE, the old configuration stays */
    for (i = 0; i < 18; i++) {
        c = good;
        switch (i) {
        case 0: c.series = 0; break;
        case 1: c.series = KEI_MAX_SERIES + 1; break;
        case 2: c.parallel = 0; break;
        case 3: c.capacity_ah = 0; break;
        case 4: c.tau1_s = -1; break;
        case 5: c.cell_uv_v = c.cell_ov_v; break;
        case 6: c.soc_true = 1.01f; break;
        case 7: c.soc_weak_true = -0.01f; break;
        case 8: c.r0_ohm = (float)NAN; break;
        case 9: c.current_sensor_gain = 0; break;
        case 10: c.energy_out_wh = -2e9f; break;
        case 11: c.capacity_spread = 0.5f; break;
        /* issue 15: physically absurd values that turn a protection off (kei_configure_ranges.h) */
        case 12: c.cell_uv_v = -3.4e38f; break;                 /* UV never trips */
        case 13: c.heat_capacity_j_per_k = 1e-45f; break;       /* temperature diverges to NaN */
        case 14: c.heat_capacity_j_per_k = 1.0f; c.thermal_resistance_k_per_w = 1.0f; break; /* tau 1 s */
        case 15: c.debounce_temp_s = 1e30f; break;              /* OT never latches */
        case 16: c.overcurrent_factor = 1e30f; break;           /* OC never trips */
        default: c.ambient_c = (float)INFINITY; break;
        }
        CHECK_EQ_INT(configure(&c), 1);
        CHECK(is_nack(&cap.msgs[0], KEI_MSG_CONFIGURE, KEI_NACK_BAD_VALUE, 1));
    }
    CHECK_EQ_INT(hello().configured, 1);
    CHECK_EQ_INT(step(1, 1, 0, 10), 1);
    CHECK_EQ_INT(telemetry_of(&cap.msgs[0]).step_count, 1);
    t.ocv_mv[7] = t.ocv_mv[6]; /* not strictly increasing */
    CHECK_EQ_INT(ocv_table(&t), 1);
    CHECK(is_nack(&cap.msgs[0], KEI_MSG_OCV_TABLE, KEI_NACK_BAD_VALUE, 2));
    t = fixture_ocv();
    t.ocv_mv[0] = 0;
    CHECK_EQ_INT(ocv_table(&t), 1);
    CHECK(is_nack(&cap.msgs[0], KEI_MSG_OCV_TABLE, KEI_NACK_BAD_VALUE, 2));
    t = fixture_ocv();
    t.points = 20;
    CHECK_EQ_INT(ocv_table(&t), 1);
    CHECK(is_nack(&cap.msgs[0], KEI_MSG_OCV_TABLE, KEI_NACK_BAD_VALUE, 2));
    CHECK_EQ_INT(cap.bad, 0);
}

/* Garbage on the line: no answer to it, the next frame after a 0x00 is answered. */
static void test_garbage(void)
{
    uint32_t x = 7;
    int i;
    boot(1);
    for (i = 0; i < 20000; i++) {
        x = x * 1103515245u + 12345u;
        kei_device_feed(&dev, (uint8_t)(x >> 16));
    }
    kei_device_feed(&dev, 0);
    CHECK_EQ_INT(hello().protocol_version, 1);
    CHECK(dev.rx.stats.cobs + dev.rx.stats.crc + dev.rx.stats.short_ + dev.rx.stats.oversize > 0);
}

/* Power mode: the device draws the current that delivers the demanded terminal power. */
static void test_power_step(void)
{
    kei_configure_t c = fixture_configure();
    kei_ocv_table_t t = fixture_ocv();
    kei_params_t p;
    kei_pack_t s;
    kei_real_t want;
    boot(1);
    kei_params_from(&c, &t, &p);
    memset(&s, 0, sizeof s);
    s.soc_t = s.soc_w = (kei_real_t)0.8f;
    want = kei_pack_current_for_power(&s, &p, 600);
    CHECK_EQ_INT(step(1, 1, 1, 600), 1);
    CHECK_NEAR(telemetry_of(&cap.msgs[0]).pack_current_a, want, 1e-5);
    /* the smaller root of E I - R I^2 = P at rest: E = 4 x 3.8 V, R = 3 R0_t + R0_w */
    CHECK_NEAR(want, (15.2 - sqrt(15.2 * 15.2 - 4 * 0.02125 * 600)) / (2 * 0.02125), 1e-3);
}

/* A board: the measure callback supplies the readings, the tick the integration time. */
static uint32_t fake_ms;
static uint32_t fake_millis(void *ctx)
{
    (void)ctx;
    return fake_ms;
}
static void fake_measure(void *ctx, kei_real_t dt_s, uint8_t mode, kei_real_t demand, kei_meas_t *m)
{
    (void)ctx;
    (void)mode;
    fake_ms += (uint32_t)(dt_s * 1000) / 4; /* the step took a quarter of the host's dt */
    memset(m, 0, sizeof *m);
    m->current_a = demand;
    m->v_t_v = m->v_w_v = (kei_real_t)3.7;
    m->pack_voltage_v = (kei_real_t)(3.7 * FX_SERIES);
    m->temperature_c = 25;
    m->soc_t = m->soc_w = (kei_real_t)NAN;
}

static void test_board_callbacks(void)
{
    kei_configure_t c = fixture_configure();
    kei_ocv_table_t t = fixture_ocv();
    kei_telemetry_t tm;
    kei_io_t io;
    memset(&cap, 0, sizeof cap);
    memset(&io, 0, sizeof io);
    io.write = capture_write;
    io.millis = fake_millis;
    io.measure = fake_measure;
    io.ctx = &cap;
    fake_ms = 0xFFFFFF00u; /* the tick wraps during the run */
    kei_device_init(&dev, &io, 1, &c, &t);
    CHECK_EQ_INT(step(1, 4, 0, 36), 1);
    CHECK_EQ_INT(step(2, 4, 0, 36), 1);
    tm = telemetry_of(&cap.msgs[0]);
    CHECK_NEAR(tm.soc_estimate, 0.8 - 36.0 * 2.0 / 3600.0 / (FX_CAPACITY_AH * FX_PARALLEL), 1e-6);
    CHECK(isnan(tm.soc_true));
    CHECK_EQ_INT(tm.fault_flags, 0);
}

int main(void)
{
    test_hello_and_configuration();
    test_sequencing();
    test_wrap_and_restore();
    test_fault_then_telemetry();
    test_bad_messages();
    test_garbage();
    test_power_step();
    test_board_callbacks();
    return kt_summary("test_device");
}
