/* Message codecs: byte layouts checked against protocol.md's offsets by hand, and every message
 * type round-tripped through payload, frame and byte-at-a-time decoder. */
#include "kei_bms.h"
#include "kei_test.h"

#include <string.h>

static const uint8_t F32_ONE[4] = {0x00, 0x00, 0x80, 0x3F};      /* 1.0f little-endian */
static const uint8_t F32_MINUS_TWO[4] = {0x00, 0x00, 0x00, 0xC0}; /* -2.0f */

static void test_scalars(void)
{
    uint8_t b[4];
    kei_put_u16(b, 0xBEEF);
    CHECK(b[0] == 0xEF && b[1] == 0xBE);
    kei_put_u32(b, 0x12345678u);
    CHECK(b[0] == 0x78 && b[1] == 0x56 && b[2] == 0x34 && b[3] == 0x12);
    CHECK_EQ_INT(kei_get_u32(b), 0x12345678u);
    kei_put_f32(b, 1.0f);
    CHECK(memcmp(b, F32_ONE, 4) == 0);
    CHECK(kei_get_f32(F32_MINUS_TWO) == -2.0f);
    CHECK(isnan(kei_get_f32((const uint8_t *)"\x00\x00\xC0\x7F"))); /* quiet NaN */
}

static void test_payload_lengths(void)
{
    /* protocol.md section 4 tables */
    CHECK_EQ_INT(kei_payload_len(0x01), 0);
    CHECK_EQ_INT(kei_payload_len(0x02), 128);
    CHECK_EQ_INT(kei_payload_len(0x03), 44);
    CHECK_EQ_INT(kei_payload_len(0x04), 9);
    CHECK_EQ_INT(kei_payload_len(0x05), 1);
    CHECK_EQ_INT(kei_payload_len(0x06), 0);
    CHECK_EQ_INT(kei_payload_len(0x07), 0);
    CHECK_EQ_INT(kei_payload_len(0x81), 22);
    CHECK_EQ_INT(kei_payload_len(0x82), 2);
    CHECK_EQ_INT(kei_payload_len(0x83), 4);
    CHECK_EQ_INT(kei_payload_len(0x84), 52);
    CHECK_EQ_INT(kei_payload_len(0x85), 7);
    CHECK_EQ_INT(kei_payload_len(0x00), -1);
    CHECK_EQ_INT(kei_payload_len(0x08), -1);
    CHECK_EQ_INT(kei_payload_len(0xFF), -1);
}

/* Distinct values in every field, so a swapped offset shows. */
static kei_configure_t sample_configure(void)
{
    kei_configure_t c;
    float *f = &c.capacity_ah;
    int i;
    memset(&c, 0, sizeof c);
    c.series = 0x0102;
    c.parallel = 0x0304;
    c.chemistry = 0x05;
    c.flags = 0x06;
    for (i = 0; &f[i] <= &c.energy_out_wh; i++) {
        f[i] = 1.5f + (float)i;
    }
    c.capacity_ah = 1.0f;
    c.last_seq = 0xBEEF;
    c.step_count = 0xA1B2C3D4u;
    c.soc_weak_true = -2.0f;
    return c;
}

static void test_configure_layout(void)
{
    uint8_t p[KEI_LEN_CONFIGURE];
    kei_configure_t c = sample_configure(), back;
    memset(p, 0xEE, sizeof p);
    kei_encode_configure(&c, p);
    CHECK(p[0] == 0x02 && p[1] == 0x01);               /* series at 0 */
    CHECK(p[2] == 0x04 && p[3] == 0x03);               /* parallel at 2 */
    CHECK(p[4] == 0x05 && p[5] == 0x06);               /* chemistry, flags */
    CHECK(memcmp(p + 6, F32_ONE, 4) == 0);             /* capacity_ah at 6 */
    CHECK(kei_get_f32(p + 10) == c.r0_ohm);            /* r0_ohm at 10 */
    CHECK(kei_get_f32(p + 66) == c.ambient_c);         /* ambient_c at 66 */
    CHECK(kei_get_f32(p + 98) == c.current_sensor_gain); /* at 98 */
    CHECK(kei_get_f32(p + 114) == c.energy_out_wh);    /* at 114 */
    CHECK(p[118] == 0xEF && p[119] == 0xBE);           /* last_seq at 118 */
    CHECK(p[120] == 0xD4 && p[123] == 0xA1);           /* step_count at 120 */
    CHECK(memcmp(p + 124, F32_MINUS_TWO, 4) == 0);     /* soc_weak_true at 124 */
    kei_decode_configure(p, &back);
    CHECK(memcmp(&back, &c, sizeof c) == 0);
}

/* Frame a message, feed it one byte at a time, return the decoded payload's length (-1: none). */
static int through_the_wire(uint8_t type, uint16_t seq, const uint8_t *payload, size_t len, uint8_t *out)
{
    uint8_t msg[KEI_HEADER_LEN + KEI_LEN_CONFIGURE], wire[KEI_WIRE_MAX(KEI_MAX_BODY)];
    kei_decoder_t d;
    size_t n, i;
    int got = -1;
    msg[0] = type;
    kei_put_u16(msg + 1, seq);
    memcpy(msg + KEI_HEADER_LEN, payload, len);
    n = kei_frame_encode(msg, KEI_HEADER_LEN + len, wire, sizeof wire);
    kei_decoder_init(&d);
    for (i = 0; i < n; i++) {
        if (kei_decoder_feed(&d, wire[i]) == KEI_DECODE_FRAME && d.body[0] == type
            && kei_get_u16(d.body + 1) == seq) {
            got = (int)(d.len - KEI_HEADER_LEN - KEI_CRC_LEN);
            memcpy(out, d.body + KEI_HEADER_LEN, (size_t)got);
        }
    }
    return got;
}

/* encode, frame, decode byte by byte, decode the payload, encode again: the same bytes (every
 * encoder writes every field, so equal bytes mean equal fields) */
#define ROUND_TRIP(TYPE, LEN, T, encode, decode, value)                             \
    do {                                                                            \
        uint8_t p_[KEI_LEN_CONFIGURE], q_[KEI_LEN_CONFIGURE], r_[KEI_LEN_CONFIGURE]; \
        T back_;                                                                    \
        memset(&back_, 0xA5, sizeof back_);                                         \
        encode(&(value), p_);                                                       \
        CHECK_EQ_INT(through_the_wire(TYPE, 0x1234, p_, LEN, q_), (int)(LEN));      \
        decode(q_, &back_);                                                         \
        encode(&back_, r_);                                                         \
        CHECK(memcmp(p_, r_, LEN) == 0);                                            \
    } while (0)

static void test_round_trips(void)
{
    kei_configure_t c = sample_configure();
    kei_ocv_table_t t;
    kei_step_t s;
    kei_hello_ack_t h;
    kei_ack_t a;
    kei_nack_t n;
    kei_telemetry_t tm;
    kei_fault_t f;
    uint8_t p[KEI_LEN_TELEMETRY], q[8];
    int i;

    memset(&t, 0, sizeof t);
    t.chemistry = 2;
    t.points = 21;
    for (i = 0; i < KEI_OCV_POINTS; i++) {
        t.ocv_mv[i] = (uint16_t)(2500 + 77 * i);
    }
    memset(&s, 0, sizeof s);
    s.dt_s = 0.5f;
    s.mode = 1;
    s.demand = -12345.5f;
    memset(&h, 0, sizeof h);
    h.protocol_version = 1;
    h.device_kind = 1;
    h.device_id = 0xDEADBEEFu;
    h.window = 16;
    h.configured = 1;
    h.last_seq = 65535;
    h.step_count = 70000;
    h.max_series = 1024;
    memcpy(h.firmware, "kei-c\0", 6);
    memset(&a, 0, sizeof a);
    a.acked_type = KEI_MSG_RESET;
    memset(&n, 0, sizeof n);
    n.rejected_type = KEI_MSG_STEP;
    n.reason = KEI_NACK_OUT_OF_ORDER;
    n.expected_seq = 0;
    memset(&tm, 0, sizeof tm);
    tm.step_count = 123456;
    tm.pack_voltage_v = 350.25f;
    tm.pack_current_a = -80.5f;
    tm.soc_estimate = 0.5f;
    tm.soc_true = 0.25f;
    tm.cell_v_min_v = 3.5f;
    tm.cell_v_max_v = 3.75f;
    tm.temperature_c = 31.5f;
    tm.allowed_discharge_a = 200.0f;
    tm.allowed_charge_a = 100.0f;
    tm.energy_out_wh = 15000.0f;
    tm.soc_weak_true = -0.125f;
    tm.fault_flags = 0x21;
    tm.contactor = 0;
    memset(&f, 0, sizeof f);
    f.fault_bit = KEI_FAULT_EMPTY;
    f.group = 1;
    f.value = -0.001f;

    ROUND_TRIP(KEI_MSG_CONFIGURE, KEI_LEN_CONFIGURE, kei_configure_t, kei_encode_configure, kei_decode_configure, c);
    ROUND_TRIP(KEI_MSG_OCV_TABLE, KEI_LEN_OCV_TABLE, kei_ocv_table_t, kei_encode_ocv_table, kei_decode_ocv_table, t);
    ROUND_TRIP(KEI_MSG_STEP, KEI_LEN_STEP, kei_step_t, kei_encode_step, kei_decode_step, s);
    ROUND_TRIP(KEI_MSG_HELLO_ACK, KEI_LEN_HELLO_ACK, kei_hello_ack_t, kei_encode_hello_ack, kei_decode_hello_ack, h);
    ROUND_TRIP(KEI_MSG_ACK, KEI_LEN_ACK, kei_ack_t, kei_encode_ack, kei_decode_ack, a);
    ROUND_TRIP(KEI_MSG_NACK, KEI_LEN_NACK, kei_nack_t, kei_encode_nack, kei_decode_nack, n);
    ROUND_TRIP(KEI_MSG_TELEMETRY, KEI_LEN_TELEMETRY, kei_telemetry_t, kei_encode_telemetry, kei_decode_telemetry, tm);
    ROUND_TRIP(KEI_MSG_FAULT, KEI_LEN_FAULT, kei_fault_t, kei_encode_fault, kei_decode_fault, f);
    /* the empty requests survive the wire too */
    CHECK_EQ_INT(through_the_wire(KEI_MSG_HELLO, 7, p, 0, q), 0);
    CHECK_EQ_INT(through_the_wire(KEI_MSG_STOP, 8, p, 0, q), 0);
    CHECK_EQ_INT(through_the_wire(KEI_MSG_STATUS, 9, p, 0, q), 0);
    q[0] = 1;
    CHECK_EQ_INT(through_the_wire(KEI_MSG_RESET, 10, q, 1, p), 1);
    CHECK_EQ_INT(p[0], 1);

    /* offsets of the device's answers */
    kei_encode_step(&s, p);
    CHECK(p[4] == 1 && kei_get_f32(p + 5) == -12345.5f);
    kei_encode_hello_ack(&h, p);
    CHECK(p[0] == 1 && p[1] == 1 && kei_get_u32(p + 2) == 0xDEADBEEFu && p[6] == 16 && p[7] == 1);
    CHECK(kei_get_u16(p + 8) == 65535 && kei_get_u32(p + 10) == 70000 && kei_get_u16(p + 14) == 1024);
    CHECK(memcmp(p + 16, "kei-c\0", 6) == 0);
    kei_encode_telemetry(&tm, p);
    CHECK(kei_get_f32(p + 4) == 350.25f && kei_get_f32(p + 32) == 200.0f && kei_get_f32(p + 44) == -0.125f);
    CHECK(p[48] == 0x21 && p[49] == 0 && p[50] == 0 && p[51] == 0);
    kei_encode_fault(&f, p);
    CHECK(p[0] == 0x20 && p[1] == 0 && p[2] == 1 && kei_get_f32(p + 3) == -0.001f);
    kei_encode_nack(&n, p);
    CHECK(p[0] == 4 && p[1] == 5 && p[2] == 0 && p[3] == 0);
    kei_encode_ocv_table(&t, p);
    CHECK(p[0] == 2 && p[1] == 21 && kei_get_u16(p + 2) == 2500 && kei_get_u16(p + 42) == 2500 + 77 * 20);
}

int main(void)
{
    test_scalars();
    test_payload_lengths();
    test_configure_layout();
    test_round_trips();
    return kt_summary("test_proto");
}
