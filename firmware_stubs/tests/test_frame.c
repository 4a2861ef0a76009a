/* Frame codec: CRC check value, COBS reference vectors, byte-at-a-time decoding, corruption at
 * every byte position with every error pattern, oversize and short bodies, garbage then frames. */
#include "kei_bms.h"
#include "kei_test.h"

#include <string.h>

static uint32_t rng_state = 0x2545F491u;

static uint32_t rng(void) /* xorshift32: reproducible */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* What the decoder made of a byte stream. */
typedef struct {
    int frames;
    int errors;
    uint8_t last[KEI_MAX_BODY];
    size_t last_len;
    int max_len_seen;
} outcome_t;

static void feed(kei_decoder_t *d, const uint8_t *bytes, size_t n, outcome_t *o)
{
    size_t i;
    for (i = 0; i < n; i++) {
        enum kei_decode_result r = kei_decoder_feed(d, bytes[i]);
        if (d->len > o->max_len_seen) {
            o->max_len_seen = d->len;
        }
        if (r == KEI_DECODE_FRAME) {
            o->frames++;
            o->last_len = d->len;
            memcpy(o->last, d->body, d->len);
        } else if (r != KEI_DECODE_NONE) {
            o->errors++;
        }
    }
}

static uint32_t error_total(const kei_decoder_t *d)
{
    return d->stats.cobs + d->stats.crc + d->stats.short_ + d->stats.oversize;
}

static void test_crc(void)
{
    static const uint8_t check[] = "123456789";
    CHECK_EQ_INT(kei_crc16(check, 9), 0x29B1);
    CHECK_EQ_INT(kei_crc16(check, 0), 0xFFFF);
}

/* Reference vectors of Cheshire & Baker's COBS (as tabulated in the literature). */
static void test_cobs_vectors(void)
{
    uint8_t in[300], want[300], out[300];
    size_t i, n;
    struct {
        uint8_t in[8];
        size_t in_len;
        uint8_t out[8];
        size_t out_len;
    } small[] = {
        {{0x00}, 1, {0x01, 0x01}, 2},
        {{0x00, 0x00}, 2, {0x01, 0x01, 0x01}, 3},
        {{0x11, 0x22, 0x00, 0x33}, 4, {0x03, 0x11, 0x22, 0x02, 0x33}, 5},
        {{0x11, 0x22, 0x33, 0x44}, 4, {0x05, 0x11, 0x22, 0x33, 0x44}, 5},
        {{0x11, 0x00, 0x00, 0x00}, 4, {0x02, 0x11, 0x01, 0x01, 0x01}, 5},
    };
    for (i = 0; i < sizeof small / sizeof small[0]; i++) {
        n = kei_cobs_encode(small[i].in, small[i].in_len, out, sizeof out);
        CHECK_EQ_INT(n, small[i].out_len);
        CHECK(memcmp(out, small[i].out, small[i].out_len) == 0);
    }
    /* 01..FE (254 bytes) -> FF 01..FE */
    for (i = 0; i < 254; i++) {
        in[i] = (uint8_t)(i + 1);
    }
    want[0] = 0xFF;
    memcpy(want + 1, in, 254);
    n = kei_cobs_encode(in, 254, out, sizeof out);
    CHECK_EQ_INT(n, 255);
    CHECK(memcmp(out, want, 255) == 0);
    /* 00..FE (255 bytes) -> 01 FF 01..FE */
    for (i = 0; i < 255; i++) {
        in[i] = (uint8_t)i;
    }
    want[0] = 0x01;
    want[1] = 0xFF;
    for (i = 0; i < 254; i++) {
        want[2 + i] = (uint8_t)(i + 1);
    }
    n = kei_cobs_encode(in, 255, out, sizeof out);
    CHECK_EQ_INT(n, 256);
    CHECK(memcmp(out, want, 256) == 0);
    /* 01..FF (255 bytes) -> FF 01..FE 02 FF */
    for (i = 0; i < 255; i++) {
        in[i] = (uint8_t)(i + 1);
    }
    want[0] = 0xFF;
    for (i = 0; i < 254; i++) {
        want[1 + i] = (uint8_t)(i + 1);
    }
    want[255] = 0x02;
    want[256] = 0xFF;
    n = kei_cobs_encode(in, 255, out, sizeof out);
    CHECK_EQ_INT(n, 257);
    CHECK(memcmp(out, want, 257) == 0);
    /* too small an output buffer is refused, not overrun */
    CHECK_EQ_INT(kei_cobs_encode(in, 255, out, 256), 0);
}

static size_t random_message(uint8_t *msg, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++) {
        uint32_t r = rng();
        msg[i] = (r & 3u) == 0 ? 0 : (uint8_t)(r >> 8); /* plenty of zeros to stuff */
    }
    return len;
}

/* Every message length, fed one byte at a time: exactly one frame, at the delimiter, identical. */
static void test_round_trip_every_length(void)
{
    uint8_t msg[KEI_MAX_BODY], wire[KEI_WIRE_MAX(KEI_MAX_BODY)];
    size_t len, i;
    int ok = 1;
    for (len = KEI_HEADER_LEN; len + KEI_CRC_LEN <= KEI_MAX_BODY; len++) {
        kei_decoder_t d;
        size_t n;
        random_message(msg, len);
        n = kei_frame_encode(msg, len, wire, sizeof wire);
        kei_decoder_init(&d);
        if (n == 0 || wire[n - 1] != 0) {
            ok = 0;
            continue;
        }
        for (i = 0; i + 1 < n; i++) {
            ok &= wire[i] != 0; /* COBS removed every zero */
            ok &= kei_decoder_feed(&d, wire[i]) == KEI_DECODE_NONE;
        }
        ok &= kei_decoder_feed(&d, 0) == KEI_DECODE_FRAME;
        ok &= d.len == len + KEI_CRC_LEN && memcmp(d.body, msg, len) == 0;
        ok &= kei_get_u16(d.body + len) == kei_crc16(msg, len);
    }
    CHECK(ok);
    /* the encoder refuses a body over KEI_MAX_BODY and a too-small buffer */
    CHECK_EQ_INT(kei_frame_encode(msg, KEI_MAX_BODY - 1, wire, sizeof wire), 0);
    CHECK_EQ_INT(kei_frame_encode(msg, 10, wire, KEI_WIRE_MAX(12) - 1), 0);
}

/* Corrupt each byte of a valid frame with every one of the 255 error patterns: the damaged frame
 * is never accepted, and the valid frames that follow are recovered. */
static void corrupt_every_position(const uint8_t *msg, size_t len)
{
    uint8_t wire[KEI_WIRE_MAX(KEI_MAX_BODY)], bad[KEI_WIRE_MAX(KEI_MAX_BODY)];
    const size_t n = kei_frame_encode(msg, len, wire, sizeof wire);
    size_t pos;
    unsigned mask;
    int accepted_bad = 0, lost_good = 0, uncounted = 0;
    for (pos = 0; pos < n; pos++) {
        for (mask = 1; mask < 256; mask++) {
            kei_decoder_t d;
            outcome_t o;
            int want_frames = pos == n - 1 ? 1 : 2; /* a lost delimiter merges into the next frame */
            memset(&o, 0, sizeof o);
            kei_decoder_init(&d);
            memcpy(bad, wire, n);
            bad[pos] ^= (uint8_t)mask;
            feed(&d, bad, n, &o);
            if (o.frames != 0) {
                accepted_bad++;
            }
            feed(&d, wire, n, &o); /* the next frame, then one more */
            feed(&d, wire, n, &o);
            if (o.frames != want_frames || o.last_len != len + KEI_CRC_LEN
                || memcmp(o.last, msg, len) != 0) {
                lost_good++;
            }
            if (error_total(&d) == 0) {
                uncounted++;
            }
        }
    }
    CHECK_EQ_INT(accepted_bad, 0);
    CHECK_EQ_INT(lost_good, 0);
    CHECK_EQ_INT(uncounted, 0);
}

static void test_corruption(void)
{
    uint8_t msg[KEI_HEADER_LEN + KEI_LEN_CONFIGURE];
    size_t i;
    /* a TELEMETRY-sized message with zeros in it, and a CONFIGURE-sized one */
    random_message(msg, KEI_HEADER_LEN + KEI_LEN_TELEMETRY);
    msg[0] = KEI_MSG_TELEMETRY;
    corrupt_every_position(msg, KEI_HEADER_LEN + KEI_LEN_TELEMETRY);
    for (i = 0; i < sizeof msg; i++) {
        msg[i] = (uint8_t)(i % 7 == 0 ? 0 : i * 37u);
    }
    msg[0] = KEI_MSG_CONFIGURE;
    corrupt_every_position(msg, sizeof msg);
}

static void test_oversize(void)
{
    uint8_t msg[KEI_MAX_BODY + 8], wire[300], good[64];
    kei_decoder_t d;
    outcome_t o;
    size_t n, good_n, i;
    int results_oversize = 0;

    for (i = 0; i < sizeof msg; i++) {
        msg[i] = (uint8_t)(1u + i % 250u);
    }
    good_n = kei_frame_encode(msg, 10, good, sizeof good);

    /* exactly KEI_MAX_BODY: accepted */
    kei_decoder_init(&d);
    memset(&o, 0, sizeof o);
    n = kei_frame_encode(msg, KEI_MAX_BODY - KEI_CRC_LEN, wire, sizeof wire);
    feed(&d, wire, n, &o);
    CHECK_EQ_INT(o.frames, 1);
    CHECK_EQ_INT(o.last_len, KEI_MAX_BODY);

    /* one byte more (CRC not even looked at): rejected at once, once; the next frame recovered */
    kei_decoder_init(&d);
    memset(&o, 0, sizeof o);
    n = kei_cobs_encode(msg, KEI_MAX_BODY + 1, wire, sizeof wire);
    for (i = 0; i < n; i++) {
        enum kei_decode_result r = kei_decoder_feed(&d, wire[i]);
        if (r == KEI_DECODE_ERR_OVERSIZE) {
            results_oversize++;
            CHECK_EQ_INT(i, n - 1); /* the last data byte is the 161st decoded byte */
        }
    }
    CHECK_EQ_INT(results_oversize, 1);
    CHECK_EQ_INT(kei_decoder_feed(&d, 0), KEI_DECODE_NONE); /* already counted */
    feed(&d, good, good_n, &o);
    CHECK_EQ_INT(o.frames, 1);
    CHECK_EQ_INT(d.stats.oversize, 1);

    /* 100000 bytes without a delimiter: counted once, the buffer never grows past KEI_MAX_BODY */
    kei_decoder_init(&d);
    memset(&o, 0, sizeof o);
    for (i = 0; i < 100000; i++) {
        uint8_t b = (uint8_t)(1u + rng() % 255u);
        feed(&d, &b, 1, &o);
    }
    CHECK_EQ_INT(d.stats.oversize, 1);
    CHECK(o.max_len_seen <= KEI_MAX_BODY);
    feed(&d, (const uint8_t *)"\0", 1, &o);
    feed(&d, good, good_n, &o);
    CHECK_EQ_INT(o.frames, 1);

    /* implicit zeros count too: 0x01 code bytes only, each one a decoded zero */
    kei_decoder_init(&d);
    memset(&o, 0, sizeof o);
    for (i = 0; i < KEI_MAX_BODY + 5; i++) {
        uint8_t b = 0x01;
        feed(&d, &b, 1, &o);
    }
    CHECK_EQ_INT(d.stats.oversize, 1);
    CHECK(o.max_len_seen <= KEI_MAX_BODY);

    /* a length-254 block announced by 0xFF does not fit: oversize, not an overrun */
    kei_decoder_init(&d);
    memset(&o, 0, sizeof o);
    wire[0] = 0xFF;
    for (i = 1; i < 255; i++) {
        wire[i] = 0x55;
    }
    wire[255] = 0;
    feed(&d, wire, 256, &o);
    CHECK_EQ_INT(d.stats.oversize, 1);
    CHECK_EQ_INT(o.frames, 0);
}

static void test_short_empty_cobs(void)
{
    uint8_t body[4] = {0x04, 0x00, 0x01, 0x02}, wire[16], good[32];
    kei_decoder_t d;
    outcome_t o;
    size_t len, n, good_n;
    good_n = kei_frame_encode((const uint8_t *)"\x01\x05\x00", 3, good, sizeof good);

    kei_decoder_init(&d);
    memset(&o, 0, sizeof o);
    for (len = 1; len < KEI_MIN_BODY; len++) {
        n = kei_cobs_encode(body, len, wire, sizeof wire);
        wire[n++] = 0;
        feed(&d, wire, n, &o);
    }
    CHECK_EQ_INT(d.stats.short_, KEI_MIN_BODY - 1);
    CHECK_EQ_INT(o.errors, KEI_MIN_BODY - 1);

    /* empty frames are ignored without counting */
    kei_decoder_init(&d);
    memset(&o, 0, sizeof o);
    feed(&d, (const uint8_t *)"\0\0\0\0", 4, &o);
    CHECK_EQ_INT(error_total(&d), 0);
    CHECK_EQ_INT(o.frames, 0);

    /* a frame that ends inside a COBS block */
    kei_decoder_init(&d);
    memset(&o, 0, sizeof o);
    feed(&d, (const uint8_t *)"\x05\x11\x22\x00", 4, &o);
    CHECK_EQ_INT(d.stats.cobs, 1);
    feed(&d, good, good_n, &o);
    CHECK_EQ_INT(o.frames, 1);
    CHECK_EQ_INT(d.stats.frames, 1);
}

/* Random garbage (zeros included), then a delimiter: every valid frame after it is recovered. */
static void test_garbage_then_frames(void)
{
    uint8_t msgs[50][KEI_HEADER_LEN + KEI_LEN_STEP], wire[64], garbage[5000];
    kei_decoder_t d;
    outcome_t o;
    size_t i, k, n;
    int round, recovered = 0, in_order = 1;
    for (round = 0; round < 20; round++) {
        kei_decoder_init(&d);
        memset(&o, 0, sizeof o);
        for (i = 0; i < sizeof garbage; i++) {
            garbage[i] = (uint8_t)rng();
        }
        feed(&d, garbage, sizeof garbage, &o);
        CHECK_EQ_INT(o.frames, 0);
        feed(&d, (const uint8_t *)"\0", 1, &o);
        for (k = 0; k < 50; k++) {
            int before = o.frames;
            random_message(msgs[k], sizeof msgs[k]);
            n = kei_frame_encode(msgs[k], sizeof msgs[k], wire, sizeof wire);
            feed(&d, wire, n, &o);
            recovered += o.frames - before;
            in_order &= o.frames == before + 1 && memcmp(o.last, msgs[k], sizeof msgs[k]) == 0;
        }
    }
    CHECK_EQ_INT(recovered, 20 * 50);
    CHECK(in_order);
}

int main(void)
{
    test_crc();
    test_cobs_vectors();
    test_round_trip_every_length();
    test_corruption();
    test_oversize();
    test_short_empty_cobs();
    test_garbage_then_frames();
    return kt_summary("test_frame");
}
