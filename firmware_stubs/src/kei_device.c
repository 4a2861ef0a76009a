/* The device side of protocol.md: frames in, one answer per request out; STEP sequencing with
 * go-back-N retransmissions answered from a telemetry cache; FAULT frames before the TELEMETRY
 * of the step on which a protection latched. */
#include "kei_bms.h"

#include "kei_math.h"

#include <string.h>

#define R(x) ((kei_real_t)(x))
#define MAX_DT_S 60.0f /* protocol.md: STEP dt_s in (0, 60] */

/* Frame `type | seq | payload` and hand it to the UART. */
static void send(kei_device_t *dev, uint8_t type, uint16_t seq, const uint8_t *payload, size_t len)
{
    uint8_t msg[KEI_HEADER_LEN + KEI_LEN_TELEMETRY]; /* TELEMETRY is the longest answer */
    uint8_t wire[KEI_WIRE_MAX(sizeof msg + KEI_CRC_LEN)];
    size_t n;
    msg[0] = type;
    kei_put_u16(msg + 1, seq);
    memcpy(msg + KEI_HEADER_LEN, payload, len);
    n = kei_frame_encode(msg, KEI_HEADER_LEN + len, wire, sizeof wire);
    dev->io.write(dev->io.ctx, wire, n);
}

static void send_ack(kei_device_t *dev, uint8_t type, uint16_t seq)
{
    uint8_t p[KEI_LEN_ACK];
    kei_ack_t ack;
    ack.acked_type = type;
    ack.status = 0;
    kei_encode_ack(&ack, p);
    send(dev, KEI_MSG_ACK, seq, p, sizeof p);
}

/* What HELLO_ACK and NACK report: the sequence state exists only once the device is configured. */
static uint16_t reported_last_seq(const kei_device_t *dev)
{
    return kei_device_configured(dev) ? dev->last_seq : 0;
}

static void send_nack(kei_device_t *dev, uint8_t type, uint16_t seq, uint8_t reason)
{
    uint8_t p[KEI_LEN_NACK];
    kei_nack_t nack;
    nack.rejected_type = type;
    nack.reason = reason;
    nack.expected_seq = (uint16_t)(reported_last_seq(dev) + 1u);
    kei_encode_nack(&nack, p);
    send(dev, KEI_MSG_NACK, seq, p, sizeof p);
}

int kei_device_configured(const kei_device_t *dev)
{
    return dev->has_configure && dev->has_ocv;
}

static void clear_cache(kei_device_t *dev)
{
    int i;
    for (i = 0; i < KEI_WINDOW; i++) {
        dev->cache[i].valid = 0;
    }
}

/* Parameters and measurement from the present state (after CONFIGURE or RESET 0: at rest, I = 0,
 * RC voltages 0, so the group voltages are the OCV), once both configuration messages are in. */
static void remeasure(kei_device_t *dev)
{
    if (kei_device_configured(dev)) {
        kei_params_from(&dev->configure, &dev->ocv, &dev->params);
        kei_pack_measure(&dev->pack, &dev->params, dev->meas.current_a, &dev->meas);
    }
}

/* Restore the state CONFIGURE sets; `full_reset` (RESET 0) also zeroes seq, count and energy. */
static void restore(kei_device_t *dev, int full_reset)
{
    const kei_configure_t *c = &dev->configure;
    memset(&dev->pack, 0, sizeof dev->pack);
    memset(&dev->bms, 0, sizeof dev->bms);
    memset(&dev->meas, 0, sizeof dev->meas);
    dev->bms.contactor = 1;
    dev->last_seq = 0;
    dev->step_count = 0;
    if (dev->has_configure) {
        dev->pack.soc_t = c->soc_true;
        dev->pack.soc_w = c->soc_weak_true;
        dev->pack.temperature_c = c->temperature_c;
        dev->bms.soc_est = c->soc_estimate;
        if (!full_reset) {
            dev->bms.energy_out_wh = c->energy_out_wh;
            dev->last_seq = c->last_seq;
            dev->step_count = c->step_count;
        }
    }
    clear_cache(dev);
    remeasure(dev);
    if (dev->io.millis) {
        dev->last_tick_ms = dev->io.millis(dev->io.ctx);
    }
}

void kei_device_telemetry(const kei_device_t *dev, kei_telemetry_t *t)
{
    kei_real_t discharge_a = 0, charge_a = 0;
    memset(t, 0, sizeof *t);
    if (kei_device_configured(dev)) {
        kei_bms_allowed(&dev->bms, &dev->params, &dev->meas, &discharge_a, &charge_a);
    }
    t->step_count = dev->step_count;
    t->pack_voltage_v = (float)dev->meas.pack_voltage_v;
    t->pack_current_a = (float)dev->meas.current_a;
    t->soc_estimate = (float)dev->bms.soc_est;
    t->soc_true = (float)dev->meas.soc_t;
    t->cell_v_min_v = (float)kei_min(dev->meas.v_t_v, dev->meas.v_w_v);
    t->cell_v_max_v = (float)kei_max(dev->meas.v_t_v, dev->meas.v_w_v);
    t->temperature_c = (float)dev->meas.temperature_c;
    t->allowed_discharge_a = (float)discharge_a;
    t->allowed_charge_a = (float)charge_a;
    t->energy_out_wh = (float)dev->bms.energy_out_wh;
    t->soc_weak_true = (float)dev->meas.soc_w;
    t->fault_flags = dev->bms.fault_flags;
    t->contactor = dev->bms.contactor;
}

static void send_telemetry(kei_device_t *dev, uint16_t seq, int cache_it)
{
    uint8_t p[KEI_LEN_TELEMETRY];
    kei_telemetry_t t;
    kei_device_telemetry(dev, &t);
    kei_encode_telemetry(&t, p);
    if (cache_it) {
        kei_cache_entry_t *e = &dev->cache[seq % KEI_WINDOW];
        e->seq = seq;
        e->valid = 1;
        memcpy(e->payload, p, sizeof p);
    }
    send(dev, KEI_MSG_TELEMETRY, seq, p, sizeof p);
}

/* Apply one step (bms_model.md steps 1 to 8). */
static void apply_step(kei_device_t *dev, uint16_t seq, const kei_step_t *step)
{
    kei_fault_event_t events[KEI_FAULT_COUNT];
    const kei_real_t demand = dev->bms.contactor ? R(step->demand) : R(0);
    kei_real_t dt_s = step->dt_s;
    int n, i;
    if (dev->io.measure) { /* a board: the load applies the demand, the sensors tell the rest */
        dev->io.measure(dev->io.ctx, dt_s, step->mode, demand, &dev->meas);
        if (dev->io.millis) {
            uint32_t now = dev->io.millis(dev->io.ctx);
            dt_s = R(now - dev->last_tick_ms) / R(1000); /* unsigned difference survives the wrap */
            dev->last_tick_ms = now;
        }
    } else {
        const kei_real_t current_a = step->mode == 1 ? kei_pack_current_for_power(&dev->pack, &dev->params, demand)
                                                     : demand;
        kei_pack_step(&dev->pack, &dev->params, dt_s, current_a, &dev->meas);
    }
    n = kei_bms_update(&dev->bms, &dev->params, &dev->meas, dt_s, events);
    dev->step_count++;
    dev->last_seq = seq;
    for (i = 0; i < n; i++) {
        uint8_t p[KEI_LEN_FAULT];
        kei_fault_t f;
        f.fault_bit = events[i].bit;
        f.group = events[i].group;
        f.value = (float)events[i].value;
        kei_encode_fault(&f, p);
        send(dev, KEI_MSG_FAULT, seq, p, sizeof p);
    }
    send_telemetry(dev, seq, 1);
}

static void handle_step(kei_device_t *dev, uint16_t seq, const uint8_t *payload)
{
    const uint16_t behind = (uint16_t)(dev->last_seq - seq); /* 0: the last step again */
    kei_step_t step;
    if (!kei_device_configured(dev)) {
        send_nack(dev, KEI_MSG_STEP, seq, KEI_NACK_NOT_CONFIGURED);
        return;
    }
    if (behind < KEI_WINDOW) {
        const kei_cache_entry_t *e = &dev->cache[seq % KEI_WINDOW];
        if (e->valid && e->seq == seq) { /* a retransmission: answer, never apply twice */
            send(dev, KEI_MSG_TELEMETRY, seq, e->payload, sizeof e->payload);
            return;
        }
    }
    if (seq != (uint16_t)(dev->last_seq + 1u)) { /* includes an applied step no longer cached */
        send_nack(dev, KEI_MSG_STEP, seq, KEI_NACK_OUT_OF_ORDER);
        return;
    }
    kei_decode_step(payload, &step);
    if (!(step.dt_s > 0 && step.dt_s <= MAX_DT_S) || step.mode > 1 || !isfinite(step.demand)) {
        send_nack(dev, KEI_MSG_STEP, seq, KEI_NACK_BAD_VALUE);
        return;
    }
    apply_step(dev, seq, &step);
}

static void handle_hello(kei_device_t *dev, uint16_t seq)
{
    static const char name[] = KEI_FIRMWARE_NAME;
    uint8_t p[KEI_LEN_HELLO_ACK];
    kei_hello_ack_t h;
    memset(&h, 0, sizeof h);
    h.protocol_version = KEI_PROTOCOL_VERSION;
    h.device_kind = KEI_DEVICE_KIND;
    h.device_id = dev->device_id;
    h.window = KEI_WINDOW;
    h.configured = (uint8_t)kei_device_configured(dev);
    h.last_seq = reported_last_seq(dev);
    h.step_count = kei_device_configured(dev) ? dev->step_count : 0;
    h.max_series = KEI_MAX_SERIES;
    memcpy(h.firmware, name, sizeof name - 1u < sizeof h.firmware ? sizeof name - 1u : sizeof h.firmware);
    kei_encode_hello_ack(&h, p);
    send(dev, KEI_MSG_HELLO_ACK, seq, p, sizeof p);
}

static int accept_configure(kei_device_t *dev, const kei_configure_t *c)
{
    if (!kei_configure_valid(c)) {
        return 0;
    }
    dev->configure = *c;
    dev->has_configure = 1;
    restore(dev, 0);
    return 1;
}

static int accept_ocv(kei_device_t *dev, const kei_ocv_table_t *t)
{
    if (!kei_ocv_table_valid(t)) {
        return 0;
    }
    dev->ocv = *t;
    dev->has_ocv = 1;
    remeasure(dev);
    return 1;
}

void kei_device_handle(kei_device_t *dev, const uint8_t *msg, size_t len)
{
    const uint8_t type = msg[0];
    const uint16_t seq = kei_get_u16(msg + 1);
    const uint8_t *payload = msg + KEI_HEADER_LEN;
    const int expected = kei_payload_len(type);
    if (expected < 0) {
        send_nack(dev, type, seq, KEI_NACK_UNKNOWN_TYPE);
        return;
    }
    if (len - KEI_HEADER_LEN != (size_t)expected) {
        send_nack(dev, type, seq, KEI_NACK_BAD_LENGTH);
        return;
    }
    if (type > KEI_MSG_STATUS) { /* a device-to-host message sent to the device */
        send_nack(dev, type, seq, KEI_NACK_UNKNOWN_TYPE);
        return;
    }
    switch (type) {
    case KEI_MSG_HELLO:
        handle_hello(dev, seq);
        break;
    case KEI_MSG_CONFIGURE: {
        kei_configure_t c;
        kei_decode_configure(payload, &c);
        if (accept_configure(dev, &c)) {
            send_ack(dev, type, seq);
        } else {
            send_nack(dev, type, seq, KEI_NACK_BAD_VALUE);
        }
        break;
    }
    case KEI_MSG_OCV_TABLE: {
        kei_ocv_table_t t;
        kei_decode_ocv_table(payload, &t);
        if (accept_ocv(dev, &t)) {
            send_ack(dev, type, seq);
        } else {
            send_nack(dev, type, seq, KEI_NACK_BAD_VALUE);
        }
        break;
    }
    case KEI_MSG_STEP:
        handle_step(dev, seq, payload);
        break;
    case KEI_MSG_RESET:
        if (payload[0] == 0) {
            restore(dev, 1);
        } else if (payload[0] == 1) {
            dev->bms.fault_flags = 0;
            memset(dev->bms.timer_s, 0, sizeof dev->bms.timer_s);
            dev->bms.contactor = 1;
        } else {
            send_nack(dev, type, seq, KEI_NACK_BAD_VALUE);
            break;
        }
        send_ack(dev, type, seq);
        break;
    case KEI_MSG_STOP:
        dev->bms.contactor = 0;
        send_ack(dev, type, seq);
        break;
    default: /* KEI_MSG_STATUS */
        if (kei_device_configured(dev)) {
            send_telemetry(dev, dev->last_seq, 0);
        } else {
            send_nack(dev, type, seq, KEI_NACK_NOT_CONFIGURED);
        }
        break;
    }
}

void kei_device_feed(kei_device_t *dev, uint8_t byte)
{
    if (kei_decoder_feed(&dev->rx, byte) == KEI_DECODE_FRAME) {
        kei_device_handle(dev, dev->rx.body, dev->rx.len - KEI_CRC_LEN);
    }
}

int kei_device_init(kei_device_t *dev, const kei_io_t *io, uint32_t device_id,
                    const kei_configure_t *boot_configure, const kei_ocv_table_t *boot_ocv)
{
    memset(dev, 0, sizeof *dev);
    dev->io = *io;
    dev->device_id = device_id;
    kei_decoder_init(&dev->rx);
    if (boot_configure && boot_ocv && kei_configure_valid(boot_configure) && kei_ocv_table_valid(boot_ocv)) {
        dev->ocv = *boot_ocv;
        dev->has_ocv = 1;
        accept_configure(dev, boot_configure);
    } else {
        restore(dev, 1);
    }
    return kei_device_configured(dev);
}
