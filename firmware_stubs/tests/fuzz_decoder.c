/* Fuzz target (libFuzzer entry point; tests/fuzz_main.c drives it without clang): arbitrary bytes
 * into the frame decoder alone and into a configured device. Under ASan/UBSan any memory or
 * undefined-behaviour error aborts; the checks below abort on a broken invariant:
 *   - the decoder never holds more than KEI_MAX_BODY bytes;
 *   - an accepted frame has a good CRC and re-encodes to a frame that decodes to the same body;
 *   - every byte the device sends decodes as a valid frame of a device-to-host type with that
 *     type's payload length, and each accepted request gets at least one answer. */
#include "fuzz_stats.h"
#include "kei_bms.h"
#include "kei_fixture.h"

#include <stdlib.h>
#include <string.h>

fuzz_stats_t fuzz_stats;

static kei_decoder_t answers;
static unsigned long answer_frames;

static void check(int ok)
{
    if (!ok) {
        abort();
    }
}

static void on_write(void *ctx, const uint8_t *data, size_t len)
{
    size_t i;
    (void)ctx;
    for (i = 0; i < len; i++) {
        enum kei_decode_result r = kei_decoder_feed(&answers, data[i]);
        check(r == KEI_DECODE_NONE || r == KEI_DECODE_FRAME);
        if (r == KEI_DECODE_FRAME) {
            const uint8_t type = answers.body[0];
            check(type >= KEI_MSG_HELLO_ACK && type <= KEI_MSG_FAULT);
            check((int)(answers.len - KEI_MIN_BODY) == kei_payload_len(type));
            answer_frames++;
            fuzz_stats.answers[type - KEI_MSG_HELLO_ACK]++;
        }
    }
}

static void decoder_alone(const uint8_t *data, size_t size)
{
    kei_decoder_t d;
    uint8_t wire[KEI_WIRE_MAX(KEI_MAX_BODY)];
    size_t i, j;
    kei_decoder_init(&d);
    for (i = 0; i < size; i++) {
        enum kei_decode_result r = kei_decoder_feed(&d, data[i]);
        check(d.len <= KEI_MAX_BODY);
        if (r == KEI_DECODE_FRAME) {
            kei_decoder_t again;
            const size_t msg_len = d.len - KEI_CRC_LEN;
            size_t n;
            int seen = 0;
            check(kei_crc16(d.body, msg_len) == kei_get_u16(d.body + msg_len));
            n = kei_frame_encode(d.body, msg_len, wire, sizeof wire);
            check(n > 0);
            kei_decoder_init(&again);
            for (j = 0; j < n; j++) {
                if (kei_decoder_feed(&again, wire[j]) == KEI_DECODE_FRAME) {
                    check(again.len == d.len && memcmp(again.body, d.body, d.len) == 0);
                    seen++;
                }
            }
            check(seen == 1);
            fuzz_stats.frames++;
        } else if (r != KEI_DECODE_NONE) {
            fuzz_stats.errors[r - KEI_DECODE_ERR_COBS]++;
        }
    }
}

static void device(const uint8_t *data, size_t size)
{
    static kei_device_t dev;
    const kei_configure_t c = fixture_configure();
    const kei_ocv_table_t t = fixture_ocv();
    kei_io_t io;
    size_t i;
    memset(&io, 0, sizeof io);
    io.write = on_write;
    kei_decoder_init(&answers);
    /* the first byte picks a configured or an unconfigured boot, so both paths get inputs */
    kei_device_init(&dev, &io, 1, size && (data[0] & 1) ? &c : NULL, size && (data[0] & 1) ? &t : NULL);
    for (i = 0; i < size; i++) {
        const unsigned long before_frames = dev.rx.stats.frames, before_answers = answer_frames;
        kei_device_feed(&dev, data[i]);
        if (dev.rx.stats.frames != before_frames) {
            check(answer_frames > before_answers);
        }
    }
    fuzz_stats.steps += dev.step_count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decoder_alone(data, size);
    device(data, size);
    fuzz_stats.inputs++;
    return 0;
}
