/* Seeded random fuzz driver for the libFuzzer target in fuzz_decoder.c, for machines without clang:
 * mutations of valid request sequences (bit flips, byte changes, inserts, deletes, duplicated
 * chunks, truncation, spliced garbage) and plain random bytes. Built with the sanitizers.
 *
 *   fuzz_random [INPUTS] [SEED]     (defaults: 200000 inputs, seed 1)
 *
 * Prints `fuzz_random: N inputs ...` and what the target saw; any error aborts (exit != 0). */
#include "fuzz_stats.h"
#include "kei_bms.h"
#include "kei_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_INPUT 1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng_state;

static uint32_t rng(void) /* splitmix64, high half */
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}

static float random_float(void)
{
    static const float interesting[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 60.0f, 60.0001f, 1e-30f, 1e30f,
                                        -1e30f, 3.4e38f, 1e6f, -1e6f, 250.0f, -80.0f};
    uint32_t bits;
    float f;
    switch (rng() % 4) {
    case 0:
        bits = rng(); /* any bit pattern: NaN, inf, subnormals */
        memcpy(&f, &bits, sizeof f);
        return f;
    case 1:
        return interesting[rng() % (sizeof interesting / sizeof interesting[0])];
    default:
        return (float)((double)(rng() % 400000) / 1000.0 - 100.0);
    }
}

/* One valid request (type | seq | payload) from the protocol's set. */
static size_t random_request(uint8_t *msg, uint16_t *next_seq)
{
    uint8_t type;
    size_t len;
    uint16_t seq = (uint16_t)rng();
    switch (rng() % 12) {
    case 0: {
        kei_configure_t c = fixture_configure();
        if (rng() % 2) {
            c.soc_true = c.soc_weak_true = (float)(rng() % 1000) / 1000.0f;
            c.last_seq = (uint16_t)rng();
            c.series = (uint16_t)(1 + rng() % 200);
        }
        if (rng() % 4 == 0) {
            c.capacity_ah = random_float();
        }
        type = KEI_MSG_CONFIGURE;
        kei_encode_configure(&c, msg + KEI_HEADER_LEN);
        len = KEI_LEN_CONFIGURE;
        break;
    }
    case 1: {
        kei_ocv_table_t t = fixture_ocv();
        if (rng() % 3 == 0) {
            t.ocv_mv[rng() % KEI_OCV_POINTS] = (uint16_t)rng();
        }
        type = KEI_MSG_OCV_TABLE;
        kei_encode_ocv_table(&t, msg + KEI_HEADER_LEN);
        len = KEI_LEN_OCV_TABLE;
        break;
    }
    case 2:
        type = KEI_MSG_RESET;
        msg[KEI_HEADER_LEN] = (uint8_t)(rng() % 3);
        len = KEI_LEN_RESET;
        break;
    case 3:
        type = (uint8_t)(rng() % 3 == 0 ? KEI_MSG_STOP : (rng() % 2 ? KEI_MSG_HELLO : KEI_MSG_STATUS));
        len = 0;
        break;
    default: { /* mostly steps, mostly in order */
        kei_step_t s;
        s.dt_s = rng() % 8 ? (float)(1 + rng() % 20) / 4.0f : random_float();
        s.mode = (uint8_t)(rng() % 8 ? rng() % 2 : rng());
        s.demand = rng() % 3 ? (float)((int)(rng() % 600) - 150) * (s.mode == 1 ? 100.0f : 1.0f) : random_float();
        type = KEI_MSG_STEP;
        seq = rng() % 8 ? (*next_seq)++ : (uint16_t)(*next_seq - rng() % 20);
        kei_encode_step(&s, msg + KEI_HEADER_LEN);
        len = KEI_LEN_STEP;
        break;
    }
    }
    msg[0] = type;
    kei_put_u16(msg + 1, seq);
    return KEI_HEADER_LEN + len;
}

static size_t random_input(uint8_t *buf)
{
    uint8_t msg[KEI_HEADER_LEN + KEI_LEN_CONFIGURE];
    size_t n = 0, k, frames, mutations;
    uint16_t next_seq = 1;
    if (rng() % 10 == 0) { /* plain random bytes, sparse zeros */
        n = rng() % MAX_INPUT;
        for (k = 0; k < n; k++) {
            buf[k] = (uint8_t)(rng() % 16 ? 1 + rng() % 255 : 0);
        }
        return n;
    }
    buf[n++] = (uint8_t)(rng() % 4 != 0); /* odd: a configured boot (see fuzz_decoder.c) */
    frames = 1 + rng() % 12;
    for (k = 0; k < frames; k++) {
        size_t len = random_request(msg, &next_seq);
        if (n + KEI_WIRE_MAX(len + KEI_CRC_LEN) > MAX_INPUT) {
            break;
        }
        n += kei_frame_encode(msg, len, buf + n, MAX_INPUT - n);
    }
    mutations = rng() % 5;
    for (k = 0; k < mutations && n > 0; k++) {
        size_t at = rng() % n, span;
        switch (rng() % 7) {
        case 0:
            buf[at] ^= (uint8_t)(1u << (rng() % 8));
            break;
        case 1:
            buf[at] = (uint8_t)rng();
            break;
        case 2:
            buf[at] = 0;
            break;
        case 3: /* insert a byte */
            if (n < MAX_INPUT) {
                memmove(buf + at + 1, buf + at, n - at);
                buf[at] = (uint8_t)rng();
                n++;
            }
            break;
        case 4: /* delete a chunk */
            span = 1 + rng() % 8;
            span = span > n - at ? n - at : span;
            memmove(buf + at, buf + at + span, n - at - span);
            n -= span;
            break;
        case 5: /* duplicate a chunk (a replayed fragment) */
            span = 1 + rng() % 64;
            span = span > n - at ? n - at : span;
            if (n + span <= MAX_INPUT) {
                memmove(buf + at + span, buf + at, n - at);
                n += span;
            }
            break;
        default: /* truncate */
            n = at;
            break;
        }
    }
    return n;
}

int main(int argc, char **argv)
{
    static uint8_t buf[MAX_INPUT];
    const unsigned long inputs = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000ul;
    const unsigned long seed = argc > 2 ? strtoul(argv[2], NULL, 10) : 1ul;
    unsigned long i;
    clock_t start;
    double seconds;
    rng_state = seed;
    start = clock();
    for (i = 0; i < inputs; i++) {
        size_t n = random_input(buf);
        LLVMFuzzerTestOneInput(buf, n);
    }
    seconds = (double)(clock() - start) / CLOCKS_PER_SEC;
    printf("fuzz_random: %lu inputs, seed %lu, %.1f s CPU, %.0f inputs/s\n", fuzz_stats.inputs, seed, seconds,
           seconds > 0 ? (double)fuzz_stats.inputs / seconds : 0.0);
    printf("  decoder: %lu frames accepted; errors cobs %lu crc %lu short %lu oversize %lu\n", fuzz_stats.frames,
           fuzz_stats.errors[0], fuzz_stats.errors[1], fuzz_stats.errors[2], fuzz_stats.errors[3]);
    printf("  device: %lu steps applied; answers HELLO_ACK %lu ACK %lu NACK %lu TELEMETRY %lu FAULT %lu\n",
           fuzz_stats.steps, fuzz_stats.answers[0], fuzz_stats.answers[1], fuzz_stats.answers[2],
           fuzz_stats.answers[3], fuzz_stats.answers[4]);
    return fuzz_stats.inputs == inputs ? 0 : 1;
}
