/* Message payloads (protocol.md section 4) <-> structs. Little-endian by shifts, so the host's
 * byte order never matters; floats travel as the bits of a uint32 (memcpy, no type punning). */
#include "kei_bms.h"

#include <string.h>

/* the wire's f32 is IEEE-754 binary32: this C float must be 4 bytes (checked at compile time) */
typedef char kei_float_is_32_bits[sizeof(float) == sizeof(uint32_t) ? 1 : -1];

uint16_t kei_get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

uint32_t kei_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

float kei_get_f32(const uint8_t *p)
{
    uint32_t bits = kei_get_u32(p);
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

void kei_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
}

void kei_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)((v >> 8) & 0xFFu);
    p[2] = (uint8_t)((v >> 16) & 0xFFu);
    p[3] = (uint8_t)(v >> 24);
}

void kei_put_f32(uint8_t *p, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    kei_put_u32(p, bits);
}

int kei_payload_len(uint8_t type)
{
    switch (type) {
    case KEI_MSG_HELLO: return KEI_LEN_HELLO;
    case KEI_MSG_CONFIGURE: return KEI_LEN_CONFIGURE;
    case KEI_MSG_OCV_TABLE: return KEI_LEN_OCV_TABLE;
    case KEI_MSG_STEP: return KEI_LEN_STEP;
    case KEI_MSG_RESET: return KEI_LEN_RESET;
    case KEI_MSG_STOP: return KEI_LEN_STOP;
    case KEI_MSG_STATUS: return KEI_LEN_STATUS;
    case KEI_MSG_HELLO_ACK: return KEI_LEN_HELLO_ACK;
    case KEI_MSG_ACK: return KEI_LEN_ACK;
    case KEI_MSG_NACK: return KEI_LEN_NACK;
    case KEI_MSG_TELEMETRY: return KEI_LEN_TELEMETRY;
    case KEI_MSG_FAULT: return KEI_LEN_FAULT;
    default: return -1;
    }
}

/* CONFIGURE: the 28 f32 fields sit at fixed offsets; a table keeps encode and decode in step. */
#define CFG_F32(field, offset) { offsetof(kei_configure_t, field), offset }
static const struct {
    uint8_t member; /* offset in the struct */
    uint8_t wire;   /* offset in the payload */
} configure_f32[] = {
    CFG_F32(capacity_ah, 6), CFG_F32(r0_ohm, 10), CFG_F32(r1_ohm, 14), CFG_F32(tau1_s, 18),
    CFG_F32(capacity_spread, 22), CFG_F32(cell_uv_v, 26), CFG_F32(cell_ov_v, 30),
    CFG_F32(derate_window_v, 34), CFG_F32(max_discharge_a, 38), CFG_F32(max_charge_a, 42),
    CFG_F32(overcurrent_factor, 46), CFG_F32(temp_derate_c, 50), CFG_F32(temp_max_c, 54),
    CFG_F32(heat_capacity_j_per_k, 58), CFG_F32(thermal_resistance_k_per_w, 62), CFG_F32(ambient_c, 66),
    CFG_F32(debounce_voltage_s, 70), CFG_F32(debounce_current_s, 74), CFG_F32(debounce_temp_s, 78),
    CFG_F32(rest_current_a, 82), CFG_F32(rest_time_s, 86), CFG_F32(ocv_gain, 90),
    CFG_F32(ocv_min_slope_v, 94), CFG_F32(current_sensor_gain, 98), CFG_F32(soc_true, 102),
    CFG_F32(soc_estimate, 106), CFG_F32(temperature_c, 110), CFG_F32(energy_out_wh, 114),
    CFG_F32(soc_weak_true, 124),
};
#define CONFIGURE_F32_COUNT (sizeof configure_f32 / sizeof configure_f32[0])

void kei_encode_configure(const kei_configure_t *m, uint8_t *p)
{
    size_t i;
    kei_put_u16(p + 0, m->series);
    kei_put_u16(p + 2, m->parallel);
    p[4] = m->chemistry;
    p[5] = m->flags;
    for (i = 0; i < CONFIGURE_F32_COUNT; i++) {
        float v;
        memcpy(&v, (const uint8_t *)m + configure_f32[i].member, sizeof v);
        kei_put_f32(p + configure_f32[i].wire, v);
    }
    kei_put_u16(p + 118, m->last_seq);
    kei_put_u32(p + 120, m->step_count);
}

void kei_decode_configure(const uint8_t *p, kei_configure_t *m)
{
    size_t i;
    memset(m, 0, sizeof *m);
    m->series = kei_get_u16(p + 0);
    m->parallel = kei_get_u16(p + 2);
    m->chemistry = p[4];
    m->flags = p[5];
    for (i = 0; i < CONFIGURE_F32_COUNT; i++) {
        float v = kei_get_f32(p + configure_f32[i].wire);
        memcpy((uint8_t *)m + configure_f32[i].member, &v, sizeof v);
    }
    m->last_seq = kei_get_u16(p + 118);
    m->step_count = kei_get_u32(p + 120);
}

void kei_encode_ocv_table(const kei_ocv_table_t *m, uint8_t *p)
{
    int i;
    p[0] = m->chemistry;
    p[1] = m->points;
    for (i = 0; i < KEI_OCV_POINTS; i++) {
        kei_put_u16(p + 2 + 2 * i, m->ocv_mv[i]);
    }
}

void kei_decode_ocv_table(const uint8_t *p, kei_ocv_table_t *m)
{
    int i;
    m->chemistry = p[0];
    m->points = p[1];
    for (i = 0; i < KEI_OCV_POINTS; i++) {
        m->ocv_mv[i] = kei_get_u16(p + 2 + 2 * i);
    }
}

void kei_encode_step(const kei_step_t *m, uint8_t *p)
{
    kei_put_f32(p + 0, m->dt_s);
    p[4] = m->mode;
    kei_put_f32(p + 5, m->demand);
}

void kei_decode_step(const uint8_t *p, kei_step_t *m)
{
    m->dt_s = kei_get_f32(p + 0);
    m->mode = p[4];
    m->demand = kei_get_f32(p + 5);
}

void kei_encode_hello_ack(const kei_hello_ack_t *m, uint8_t *p)
{
    p[0] = m->protocol_version;
    p[1] = m->device_kind;
    kei_put_u32(p + 2, m->device_id);
    p[6] = m->window;
    p[7] = m->configured;
    kei_put_u16(p + 8, m->last_seq);
    kei_put_u32(p + 10, m->step_count);
    kei_put_u16(p + 14, m->max_series);
    memcpy(p + 16, m->firmware, sizeof m->firmware);
}

void kei_decode_hello_ack(const uint8_t *p, kei_hello_ack_t *m)
{
    m->protocol_version = p[0];
    m->device_kind = p[1];
    m->device_id = kei_get_u32(p + 2);
    m->window = p[6];
    m->configured = p[7];
    m->last_seq = kei_get_u16(p + 8);
    m->step_count = kei_get_u32(p + 10);
    m->max_series = kei_get_u16(p + 14);
    memcpy(m->firmware, p + 16, sizeof m->firmware);
}

void kei_encode_ack(const kei_ack_t *m, uint8_t *p)
{
    p[0] = m->acked_type;
    p[1] = m->status;
}

void kei_decode_ack(const uint8_t *p, kei_ack_t *m)
{
    m->acked_type = p[0];
    m->status = p[1];
}

void kei_encode_nack(const kei_nack_t *m, uint8_t *p)
{
    p[0] = m->rejected_type;
    p[1] = m->reason;
    kei_put_u16(p + 2, m->expected_seq);
}

void kei_decode_nack(const uint8_t *p, kei_nack_t *m)
{
    m->rejected_type = p[0];
    m->reason = p[1];
    m->expected_seq = kei_get_u16(p + 2);
}

void kei_encode_telemetry(const kei_telemetry_t *m, uint8_t *p)
{
    kei_put_u32(p + 0, m->step_count);
    kei_put_f32(p + 4, m->pack_voltage_v);
    kei_put_f32(p + 8, m->pack_current_a);
    kei_put_f32(p + 12, m->soc_estimate);
    kei_put_f32(p + 16, m->soc_true);
    kei_put_f32(p + 20, m->cell_v_min_v);
    kei_put_f32(p + 24, m->cell_v_max_v);
    kei_put_f32(p + 28, m->temperature_c);
    kei_put_f32(p + 32, m->allowed_discharge_a);
    kei_put_f32(p + 36, m->allowed_charge_a);
    kei_put_f32(p + 40, m->energy_out_wh);
    kei_put_f32(p + 44, m->soc_weak_true);
    kei_put_u16(p + 48, m->fault_flags);
    p[50] = m->contactor;
    p[51] = m->reserved;
}

void kei_decode_telemetry(const uint8_t *p, kei_telemetry_t *m)
{
    m->step_count = kei_get_u32(p + 0);
    m->pack_voltage_v = kei_get_f32(p + 4);
    m->pack_current_a = kei_get_f32(p + 8);
    m->soc_estimate = kei_get_f32(p + 12);
    m->soc_true = kei_get_f32(p + 16);
    m->cell_v_min_v = kei_get_f32(p + 20);
    m->cell_v_max_v = kei_get_f32(p + 24);
    m->temperature_c = kei_get_f32(p + 28);
    m->allowed_discharge_a = kei_get_f32(p + 32);
    m->allowed_charge_a = kei_get_f32(p + 36);
    m->energy_out_wh = kei_get_f32(p + 40);
    m->soc_weak_true = kei_get_f32(p + 44);
    m->fault_flags = kei_get_u16(p + 48);
    m->contactor = p[50];
    m->reserved = p[51];
}

void kei_encode_fault(const kei_fault_t *m, uint8_t *p)
{
    kei_put_u16(p + 0, m->fault_bit);
    p[2] = m->group;
    kei_put_f32(p + 3, m->value);
}

void kei_decode_fault(const uint8_t *p, kei_fault_t *m)
{
    m->fault_bit = kei_get_u16(p + 0);
    m->group = p[2];
    m->value = kei_get_f32(p + 3);
}
