/* Where the instructions of a protocol step go, on the target: a semihosted image (never the
 * firmware) that times the core's parts with the cycle counter, for bench/firmware_target.py.
 * Run it under `qemu-system-arm -icount shift=0`: one instruction per ns of virtual time, so
 * instructions = timer cycles x (1e9 / BOARD_CLOCK_HZ). Prints one `name: N instructions` line per
 * part, each the average over PROFILE_REPEATS calls. */
#include "board.h"
#include "kei_bms.h"
#include "timebase.h"

#include <stdio.h>
#include <string.h>

#include KEI_PACK_CONFIG_HEADER

#define PROFILE_REPEATS 2000u
#define NS_PER_CYCLE (1000000000u / BOARD_CLOCK_HZ)
#define STEP_POWER_W 15000.0f /* a cruise at ~80 km/h: the pack model's power mode */
#define STEP_CURRENT_A 40.0f

static kei_device_t device;
static size_t answered_bytes;

static void count_only(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx;
    (void)data;
    answered_bytes += len;
}

static void report(const char *name, uint32_t cycles)
{
    printf("%s: %lu instructions\n", name, (unsigned long)(cycles * NS_PER_CYCLE / PROFILE_REPEATS));
}

/* a STEP request on the wire, as the host sends it */
static size_t step_frame(uint16_t seq, uint8_t *wire, size_t cap)
{
    uint8_t msg[KEI_HEADER_LEN + KEI_LEN_STEP];
    kei_step_t step = {1.0f, 1, STEP_POWER_W};
    msg[0] = KEI_MSG_STEP;
    kei_put_u16(msg + 1, seq);
    kei_encode_step(&step, msg + KEI_HEADER_LEN);
    return kei_frame_encode(msg, sizeof msg, wire, cap);
}

int main(void)
{
    static const kei_configure_t boot_configure = KEI_PACK_CONFIGURE;
    static const kei_ocv_table_t boot_ocv = KEI_PACK_OCV_TABLE;
    kei_io_t io = {.write = count_only};
    uint8_t wire[KEI_WIRE_MAX(KEI_MIN_BODY + KEI_LEN_TELEMETRY)], body[KEI_MIN_BODY + KEI_LEN_TELEMETRY];
    volatile uint32_t sink = 0;
    uint32_t k, t0, building;
    size_t i, n;
    kei_meas_t meas;
    kei_pack_t pack;
    kei_telemetry_t tel;

    timebase_init(BOARD_CLOCK_HZ);
    kei_device_init(&device, &io, 1, &boot_configure, &boot_ocv);

    t0 = timebase_cycles();
    for (k = 1; k <= PROFILE_REPEATS; k++) {
        sink += step_frame((uint16_t)k, wire, sizeof wire);
    }
    building = timebase_cycles() - t0;
    t0 = timebase_cycles();
    for (k = 1; k <= PROFILE_REPEATS; k++) { /* decode, apply, answer: what kei_device_feed does per step */
        n = step_frame((uint16_t)k, wire, sizeof wire);
        for (i = 0; i < n; i++) {
            kei_device_feed(&device, wire[i]);
        }
    }
    report("step (feed 16 bytes: decode, model, BMS, TELEMETRY out)", timebase_cycles() - t0 - building);
    printf("(answers: %lu bytes for %lu steps)\n", (unsigned long)answered_bytes, (unsigned long)PROFILE_REPEATS);

    memset(body, 0x5A, sizeof body);
    t0 = timebase_cycles();
    for (k = 0; k < PROFILE_REPEATS; k++) {
        sink += kei_crc16(body, KEI_HEADER_LEN + KEI_LEN_STEP);
    }
    report("  crc16 of a STEP (12 bytes)", timebase_cycles() - t0);
    t0 = timebase_cycles();
    for (k = 0; k < PROFILE_REPEATS; k++) {
        sink += kei_crc16(body, KEI_HEADER_LEN + KEI_LEN_TELEMETRY);
    }
    report("  crc16 of a TELEMETRY (55 bytes)", timebase_cycles() - t0);
    kei_device_telemetry(&device, &tel);
    t0 = timebase_cycles();
    for (k = 0; k < PROFILE_REPEATS; k++) {
        body[0] = KEI_MSG_TELEMETRY;
        kei_put_u16(body + 1, (uint16_t)k);
        kei_encode_telemetry(&tel, body + KEI_HEADER_LEN);
        sink += kei_frame_encode(body, KEI_HEADER_LEN + KEI_LEN_TELEMETRY, wire, sizeof wire);
    }
    report("  TELEMETRY payload + frame (crc included)", timebase_cycles() - t0);
    pack = device.pack;
    t0 = timebase_cycles();
    for (k = 0; k < PROFILE_REPEATS; k++) {
        sink += (uint32_t)kei_pack_current_for_power(&pack, &device.params, STEP_POWER_W);
    }
    report("  pack: current for a power demand", timebase_cycles() - t0);
    t0 = timebase_cycles();
    for (k = 0; k < PROFILE_REPEATS; k++) {
        kei_pack_step(&pack, &device.params, 1.0f, STEP_CURRENT_A, &meas);
    }
    report("  pack: one step of the groups and the temperature", timebase_cycles() - t0);
    t0 = timebase_cycles();
    for (k = 0; k < PROFILE_REPEATS; k++) {
        kei_bms_t bms = device.bms;
        kei_fault_event_t events[KEI_FAULT_COUNT];
        kei_real_t discharge_a, charge_a;
        sink += (uint32_t)kei_bms_update(&bms, &device.params, &meas, 1.0f, events);
        kei_bms_allowed(&bms, &device.params, &meas, &discharge_a, &charge_a);
        sink += (uint32_t)discharge_a;
    }
    report("  BMS: update and allowed currents", timebase_cycles() - t0);
    (void)sink;
    return 0;
}
