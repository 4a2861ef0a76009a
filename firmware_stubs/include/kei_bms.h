/*
 * kei_bms.h: the BMS side of the kei bench protocol (docs/protocol.md) in portable C99.
 *
 * The core (src/kei_*.c) uses no dynamic memory, no OS call and no global state: everything lives
 * in a kei_device_t the caller owns (1600 bytes with the defaults). The hardware boundary is
 * kei_io_t: a UART write callback, a millisecond tick and, on a real board, a measurement callback,
 * all taking an opaque context pointer (nanopb style). Feed received bytes one at a time to
 * kei_device_feed(); answers go out through io.write.
 *
 * Signs: current and power are positive on DISCHARGE. Units: A, V, ohm, s, Ah, Wh, C (Celsius).
 *
 * Compile-time options (define them with -D, or edit the defaults below):
 *
 *   KEI_MAX_BODY     largest frame body the decoder accepts (protocol MAX_BODY, default 160);
 *                    the decoder buffers at most this many bytes.
 *   KEI_WINDOW       steps the host may have in flight = telemetry frames cached for
 *                    retransmissions (default 16, reported in HELLO_ACK). RAM: ~56 bytes each.
 *   KEI_REAL         the type the pack model and BMS compute in: float (default, binary32) or
 *                    double. The wire always carries binary32.
 *   KEI_MAX_SERIES   largest `series` a CONFIGURE may set (default 1024, reported in HELLO_ACK).
 *                    The model keeps two group states whatever the count, so RAM does not grow.
 *   KEI_DEVICE_KIND  HELLO_ACK device_kind: 1 = C firmware stub (default), 2 = hardware.
 *   KEI_FIRMWARE_NAME HELLO_ACK firmware name, at most 6 ASCII characters (default "kei-c").
 *
 * The core needs libm's expf and sqrtf (exp and sqrt with KEI_REAL double) and memcpy, memset.
 */
#ifndef KEI_BMS_H
#define KEI_BMS_H

#include <stddef.h>
#include <stdint.h>

#ifndef KEI_MAX_BODY
#define KEI_MAX_BODY 160
#endif
#ifndef KEI_WINDOW
#define KEI_WINDOW 16
#endif
#ifndef KEI_REAL
#define KEI_REAL float
#endif
#ifndef KEI_MAX_SERIES
#define KEI_MAX_SERIES 1024
#endif
#ifndef KEI_DEVICE_KIND
#define KEI_DEVICE_KIND 1
#endif
#ifndef KEI_FIRMWARE_NAME
#define KEI_FIRMWARE_NAME "kei-c"
#endif

#if KEI_MAX_BODY < 133 || KEI_MAX_BODY > 65535
#error "KEI_MAX_BODY must hold the largest message (CONFIGURE: 133 bytes) plus room, and fit a u16"
#endif
#if KEI_WINDOW < 1 || KEI_WINDOW > 255
#error "KEI_WINDOW must be 1..255 (a u8 in HELLO_ACK)"
#endif
#if KEI_MAX_SERIES < 1 || KEI_MAX_SERIES > 65535
#error "KEI_MAX_SERIES must be 1..65535 (a u16 in HELLO_ACK)"
#endif

typedef KEI_REAL kei_real_t;

#ifdef __cplusplus
extern "C" {
#endif

/* ---- protocol constants (docs/protocol.md) -------------------------------------------------- */
#define KEI_PROTOCOL_VERSION 1u

enum kei_msg_type {
    KEI_MSG_HELLO = 0x01,
    KEI_MSG_CONFIGURE = 0x02,
    KEI_MSG_OCV_TABLE = 0x03,
    KEI_MSG_STEP = 0x04,
    KEI_MSG_RESET = 0x05,
    KEI_MSG_STOP = 0x06,
    KEI_MSG_STATUS = 0x07,
    KEI_MSG_HELLO_ACK = 0x81,
    KEI_MSG_ACK = 0x82,
    KEI_MSG_NACK = 0x83,
    KEI_MSG_TELEMETRY = 0x84,
    KEI_MSG_FAULT = 0x85
};

/* payload lengths in bytes */
#define KEI_LEN_HELLO 0u
#define KEI_LEN_CONFIGURE 128u
#define KEI_LEN_OCV_TABLE 44u
#define KEI_LEN_STEP 9u
#define KEI_LEN_RESET 1u
#define KEI_LEN_STOP 0u
#define KEI_LEN_STATUS 0u
#define KEI_LEN_HELLO_ACK 22u
#define KEI_LEN_ACK 2u
#define KEI_LEN_NACK 4u
#define KEI_LEN_TELEMETRY 52u
#define KEI_LEN_FAULT 7u

#define KEI_HEADER_LEN 3u /* type u8 + seq u16 */
#define KEI_CRC_LEN 2u
#define KEI_MIN_BODY (KEI_HEADER_LEN + KEI_CRC_LEN)
/* a frame on the wire: COBS adds 1 byte per 254 plus 1, then the 0x00 delimiter */
#define KEI_WIRE_MAX(body_len) ((body_len) + (body_len) / 254u + 2u)

enum kei_nack_reason {
    KEI_NACK_BAD_LENGTH = 1,
    KEI_NACK_UNKNOWN_TYPE = 2,
    KEI_NACK_BAD_VALUE = 3,
    KEI_NACK_NOT_CONFIGURED = 4,
    KEI_NACK_OUT_OF_ORDER = 5
};

enum kei_fault_bit {
    KEI_FAULT_UNDERVOLTAGE = 1u << 0,
    KEI_FAULT_OVERVOLTAGE = 1u << 1,
    KEI_FAULT_OVERCURRENT_DISCHARGE = 1u << 2,
    KEI_FAULT_OVERCURRENT_CHARGE = 1u << 3,
    KEI_FAULT_OVERTEMPERATURE = 1u << 4,
    KEI_FAULT_EMPTY = 1u << 5
};
#define KEI_FAULT_COUNT 6

enum kei_group { KEI_GROUP_TYPICAL = 0, KEI_GROUP_WEAKEST = 1, KEI_GROUP_PACK = 255 };

#define KEI_OCV_POINTS 21
#define KEI_OCV_SOC_STEP 0.05 /* SOC between two OCV table points */

/* ---- frame codec: COBS + CRC-16/CCITT-FALSE (src/kei_frame.c) ------------------------------- */
uint16_t kei_crc16(const uint8_t *data, size_t len);

/* COBS-encode `len` bytes into `out` (no delimiter). Returns the encoded length, or 0 if `cap`
 * is too small. Used by tests to build frames with any body, valid or not. */
size_t kei_cobs_encode(const uint8_t *in, size_t len, uint8_t *out, size_t cap);

/* Frame a message (type | seq | payload): append its CRC, COBS-encode, append 0x00.
 * Returns the wire length, or 0 if `cap` < KEI_WIRE_MAX(msg_len + 2) or the body is too long. */
size_t kei_frame_encode(const uint8_t *msg, size_t msg_len, uint8_t *out, size_t cap);

enum kei_decode_result {
    KEI_DECODE_NONE = 0,     /* byte consumed, no frame completed */
    KEI_DECODE_FRAME = 1,    /* a valid frame: kei_decoder_t.body[0 .. len - 3] is the message */
    KEI_DECODE_ERR_COBS = 2, /* frame ended inside a COBS block */
    KEI_DECODE_ERR_CRC = 3,
    KEI_DECODE_ERR_SHORT = 4,   /* body shorter than 5 bytes */
    KEI_DECODE_ERR_OVERSIZE = 5 /* body would exceed KEI_MAX_BODY: reported once, at once */
};

typedef struct {
    uint32_t frames; /* valid frames */
    uint32_t cobs;
    uint32_t crc;
    uint32_t short_;
    uint32_t oversize;
} kei_frame_stats_t;

typedef struct {
    uint8_t body[KEI_MAX_BODY]; /* decoded body so far (message + crc) */
    uint16_t len;
    uint8_t block_left; /* data bytes left in the current COBS block */
    uint8_t code;       /* current block's code byte (0 before the first) */
    uint8_t skipping;   /* an oversize frame: ignore bytes until the next 0x00 */
    kei_frame_stats_t stats;
} kei_decoder_t;

void kei_decoder_init(kei_decoder_t *d);
/* Feed one received byte. On KEI_DECODE_FRAME the message is body[0 .. len - KEI_CRC_LEN - 1]
 * and stays valid until the next call. */
enum kei_decode_result kei_decoder_feed(kei_decoder_t *d, uint8_t byte);

/* ---- little-endian packing (src/kei_proto.c) ------------------------------------------------ */
uint16_t kei_get_u16(const uint8_t *p);
uint32_t kei_get_u32(const uint8_t *p);
float kei_get_f32(const uint8_t *p);
void kei_put_u16(uint8_t *p, uint16_t v);
void kei_put_u32(uint8_t *p, uint32_t v);
void kei_put_f32(uint8_t *p, float v);

/* ---- messages (src/kei_proto.c): one struct per payload, fields as in protocol.md ------------ */
typedef struct {
    uint16_t series;
    uint16_t parallel;
    uint8_t chemistry;
    uint8_t flags;
    float capacity_ah;
    float r0_ohm;
    float r1_ohm;
    float tau1_s;
    float capacity_spread;
    float cell_uv_v;
    float cell_ov_v;
    float derate_window_v;
    float max_discharge_a;
    float max_charge_a;
    float overcurrent_factor;
    float temp_derate_c;
    float temp_max_c;
    float heat_capacity_j_per_k;
    float thermal_resistance_k_per_w;
    float ambient_c;
    float debounce_voltage_s;
    float debounce_current_s;
    float debounce_temp_s;
    float rest_current_a;
    float rest_time_s;
    float ocv_gain;
    float ocv_min_slope_v;
    float current_sensor_gain;
    float soc_true;
    float soc_estimate;
    float temperature_c;
    float energy_out_wh;
    uint16_t last_seq;
    uint32_t step_count;
    float soc_weak_true;
} kei_configure_t;

typedef struct {
    uint8_t chemistry;
    uint8_t points;
    uint16_t ocv_mv[KEI_OCV_POINTS];
} kei_ocv_table_t;

typedef struct {
    float dt_s;
    uint8_t mode; /* 0 current (A), 1 power (W) */
    float demand;
} kei_step_t;

typedef struct {
    uint8_t protocol_version;
    uint8_t device_kind;
    uint32_t device_id;
    uint8_t window;
    uint8_t configured;
    uint16_t last_seq;
    uint32_t step_count;
    uint16_t max_series;
    char firmware[6]; /* zero-padded, not terminated */
} kei_hello_ack_t;

typedef struct {
    uint8_t acked_type;
    uint8_t status;
} kei_ack_t;

typedef struct {
    uint8_t rejected_type;
    uint8_t reason;
    uint16_t expected_seq;
} kei_nack_t;

typedef struct {
    uint32_t step_count;
    float pack_voltage_v;
    float pack_current_a;
    float soc_estimate;
    float soc_true;
    float cell_v_min_v;
    float cell_v_max_v;
    float temperature_c;
    float allowed_discharge_a;
    float allowed_charge_a;
    float energy_out_wh;
    float soc_weak_true;
    uint16_t fault_flags;
    uint8_t contactor;
    uint8_t reserved;
} kei_telemetry_t;

typedef struct {
    uint16_t fault_bit;
    uint8_t group;
    float value;
} kei_fault_t;

/* Payload codecs. encode writes exactly KEI_LEN_<TYPE> bytes; decode reads them (the caller has
 * checked the length). Host-to-device and device-to-host alike, so tests and host tools can use
 * them too. */
void kei_encode_configure(const kei_configure_t *m, uint8_t *p);
void kei_decode_configure(const uint8_t *p, kei_configure_t *m);
void kei_encode_ocv_table(const kei_ocv_table_t *m, uint8_t *p);
void kei_decode_ocv_table(const uint8_t *p, kei_ocv_table_t *m);
void kei_encode_step(const kei_step_t *m, uint8_t *p);
void kei_decode_step(const uint8_t *p, kei_step_t *m);
void kei_encode_hello_ack(const kei_hello_ack_t *m, uint8_t *p);
void kei_decode_hello_ack(const uint8_t *p, kei_hello_ack_t *m);
void kei_encode_ack(const kei_ack_t *m, uint8_t *p);
void kei_decode_ack(const uint8_t *p, kei_ack_t *m);
void kei_encode_nack(const kei_nack_t *m, uint8_t *p);
void kei_decode_nack(const uint8_t *p, kei_nack_t *m);
void kei_encode_telemetry(const kei_telemetry_t *m, uint8_t *p);
void kei_decode_telemetry(const uint8_t *p, kei_telemetry_t *m);
void kei_encode_fault(const kei_fault_t *m, uint8_t *p);
void kei_decode_fault(const uint8_t *p, kei_fault_t *m);

/* Payload length of a message type, or -1 for a type the protocol does not define. */
int kei_payload_len(uint8_t type);

/* ---- pack model and BMS logic (src/kei_pack.c, src/kei_bms.c; docs/bms_model.md) ----------- */

/* The pack as the model sees it: CONFIGURE + OCV_TABLE in kei_real_t, with the group parameters
 * derived once (bms_model.md "Pack structure"). */
typedef struct {
    uint16_t series;
    kei_real_t q_t_ah, q_w_ah;         /* group capacities */
    kei_real_t r0_t_ohm, r0_w_ohm;     /* group ohmic resistances */
    kei_real_t r1_t_ohm, r1_w_ohm;     /* group RC resistances */
    kei_real_t tau1_s;
    kei_real_t ocv_v[KEI_OCV_POINTS]; /* cell OCV at SOC 0, 0.05, ..., 1 */
    kei_real_t cell_uv_v, cell_ov_v, derate_window_v;
    kei_real_t max_discharge_a, max_charge_a, overcurrent_factor;
    kei_real_t temp_derate_c, temp_max_c;
    kei_real_t heat_capacity_j_per_k, thermal_resistance_k_per_w, ambient_c;
    kei_real_t debounce_s[KEI_FAULT_COUNT - 1]; /* UV, OV, OC discharge, OC charge, OT */
    kei_real_t rest_current_a, rest_time_s, ocv_gain, ocv_min_slope_v, current_sensor_gain;
} kei_params_t;

/* True state of the emulated pack: the typical and the weakest group, and the lumped temperature. */
typedef struct {
    kei_real_t soc_t, soc_w; /* never clamped */
    kei_real_t vrc_t_v, vrc_w_v;
    kei_real_t temperature_c;
} kei_pack_t;

/* What the BMS measures after a step (from the model, or from a board's sensors). Group voltages
 * are per cell group; soc_t/soc_w are the model's truth (NaN on hardware: EMPTY never trips). */
typedef struct {
    kei_real_t current_a;
    kei_real_t v_t_v, v_w_v; /* typical and weakest group voltage (v_t = v_w when series == 1) */
    kei_real_t pack_voltage_v;
    kei_real_t temperature_c;
    kei_real_t soc_t, soc_w;
} kei_meas_t;

/* BMS state: estimate, OCV correction, debounce timers, latched faults, contactor, energy. */
typedef struct {
    kei_real_t soc_est;
    kei_real_t rest_s;
    uint8_t corrected;
    uint8_t contactor; /* 1 closed */
    uint16_t fault_flags;
    kei_real_t timer_s[KEI_FAULT_COUNT - 1];
    kei_real_t energy_out_wh;
} kei_bms_t;

/* Validate CONFIGURE (protocol.md: counts, positive capacity and time constants, uv < ov, SOCs
 * in [0, 1], finite floats, ...; the same checks as hil/protocol.py). Returns 1 if acceptable. */
int kei_configure_valid(const kei_configure_t *c);
/* OCV_TABLE: 21 points, positive and strictly increasing. Returns 1 if acceptable. */
int kei_ocv_table_valid(const kei_ocv_table_t *t);
/* Derive the model parameters (both messages already validated). */
void kei_params_from(const kei_configure_t *c, const kei_ocv_table_t *t, kei_params_t *p);

/* OCV of a cell at `soc` (clamped to [0, 1] for the lookup), linear between table points. */
kei_real_t kei_ocv(const kei_params_t *p, kei_real_t soc);
/* Inverse: SOC at cell voltage `v`, clamped to [0, 1]; *slope_v = dOCV/dSOC of its segment. */
kei_real_t kei_ocv_inverse(const kei_params_t *p, kei_real_t v, kei_real_t *slope_v);

/* Pack current that delivers terminal power `power_w` (bms_model.md step 1, power mode). */
kei_real_t kei_pack_current_for_power(const kei_pack_t *s, const kei_params_t *p, kei_real_t power_w);
/* Advance the groups and the temperature by `dt_s` at current `current_a` (steps 2 to 4); fill
 * *m with the new voltages. */
void kei_pack_step(kei_pack_t *s, const kei_params_t *p, kei_real_t dt_s, kei_real_t current_a, kei_meas_t *m);
/* The measurement of the present state at current `current_a` (no time passes). */
void kei_pack_measure(const kei_pack_t *s, const kei_params_t *p, kei_real_t current_a, kei_meas_t *m);

/* One latched fault, for the FAULT frame. */
typedef struct {
    uint16_t bit;
    uint8_t group;
    kei_real_t value;
} kei_fault_event_t;

/* BMS update after a step of `dt_s` with measurement *m (steps 3 energy, 5 and 6). Writes the
 * faults that latched on this step into events[] in bit order and returns their count (<= 6). */
int kei_bms_update(kei_bms_t *b, const kei_params_t *p, const kei_meas_t *m, kei_real_t dt_s,
                   kei_fault_event_t events[KEI_FAULT_COUNT]);
/* Allowed currents for the next step (step 7): both 0 when the contactor is open. */
void kei_bms_allowed(const kei_bms_t *b, const kei_params_t *p, const kei_meas_t *m,
                     kei_real_t *discharge_a, kei_real_t *charge_a);

/* ---- the device (src/kei_device.c): protocol.md sections 2 to 4 ------------------------------ */

/* Hardware boundary. `write` is required; the others may be NULL. */
typedef struct {
    /* Send bytes on the UART (or whatever the link is). Must take them all (queue or block). */
    void (*write)(void *ctx, const uint8_t *data, size_t len);
    /* Free-running millisecond tick (wraps). Used with `measure`: the BMS integrates over the
     * real time between two measurements instead of the host's dt. */
    uint32_t (*millis)(void *ctx);
    /* A real board: apply the step's demand (mode 0 current A, 1 power W; 0 when the contactor
     * is open) and fill *m from the sensors (soc_t/soc_w NaN). NULL: the emulated pack model. */
    void (*measure)(void *ctx, kei_real_t dt_s, uint8_t mode, kei_real_t demand, kei_meas_t *m);
    void *ctx;
} kei_io_t;

typedef struct {
    uint16_t seq;
    uint8_t valid;
    uint8_t payload[KEI_LEN_TELEMETRY];
} kei_cache_entry_t;

typedef struct {
    kei_io_t io;
    uint32_t device_id;
    kei_decoder_t rx;
    uint8_t has_configure, has_ocv;
    kei_configure_t configure; /* as accepted: the state RESET 0 returns to */
    kei_ocv_table_t ocv;
    kei_params_t params;
    kei_pack_t pack;
    kei_bms_t bms;
    kei_meas_t meas; /* last measurement: what TELEMETRY and STATUS report */
    uint16_t last_seq;
    uint32_t step_count;
    uint32_t last_tick_ms;
    kei_cache_entry_t cache[KEI_WINDOW]; /* ring indexed by seq % KEI_WINDOW */
} kei_device_t;

/* Boot. `boot_configure`/`boot_ocv` (both or neither, may be NULL): a compiled-in configuration
 * (pack_config.h) applied as if CONFIGURE and OCV_TABLE had arrived; invalid ones are ignored and
 * the device boots unconfigured. Returns 1 if the device is configured. */
int kei_device_init(kei_device_t *dev, const kei_io_t *io, uint32_t device_id,
                    const kei_configure_t *boot_configure, const kei_ocv_table_t *boot_ocv);
/* Feed one received byte; answers are written through io.write before it returns. */
void kei_device_feed(kei_device_t *dev, uint8_t byte);
/* Handle one complete message (type | seq | payload) as if a valid frame had carried it. */
void kei_device_handle(kei_device_t *dev, const uint8_t *msg, size_t len);
int kei_device_configured(const kei_device_t *dev);
/* The TELEMETRY of the present state with step count, as STATUS reports it. */
void kei_device_telemetry(const kei_device_t *dev, kei_telemetry_t *t);

/* Most bytes one received byte can make the device send: up to six FAULT frames and a TELEMETRY. */
#define KEI_MAX_RESPONSE_BYTES \
    (KEI_FAULT_COUNT * KEI_WIRE_MAX(KEI_MIN_BODY + KEI_LEN_FAULT) + KEI_WIRE_MAX(KEI_MIN_BODY + KEI_LEN_TELEMETRY))

#ifdef __cplusplus
}
#endif

#endif /* KEI_BMS_H */
