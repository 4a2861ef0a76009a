/* Frame codec (protocol.md section 2): body = message | crc16 (LE), wire = COBS(body) 0x00.
 * The decoder undoes COBS as bytes arrive, so it buffers only the decoded body (at most
 * KEI_MAX_BODY bytes) and can reject an oversize frame at the byte that makes it too long. */
#include "kei_bms.h"

#include <string.h>

uint16_t kei_crc16(const uint8_t *data, size_t len)
{
    /* CRC-16/CCITT-FALSE, bit by bit: 8 shifts a byte cost less flash than a 512-byte table */
    uint16_t crc = 0xFFFFu;
    size_t i;
    int bit;
    for (i = 0; i < len; i++) {
        crc ^= (uint16_t)((uint16_t)data[i] << 8);
        for (bit = 0; bit < 8; bit++) {
            crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
        }
    }
    return crc;
}

/* COBS of the concatenation a | b, without the delimiter; 0 if it does not fit `cap`. */
static size_t cobs_encode2(const uint8_t *a, size_t na, const uint8_t *b, size_t nb, uint8_t *out, size_t cap)
{
    size_t total = na + nb;
    size_t code_pos = 0, pos = 1, i;
    uint8_t code = 1;
    if (cap < total + total / 254u + 1u) {
        return 0;
    }
    for (i = 0; i < total; i++) {
        uint8_t byte = i < na ? a[i] : b[i - na];
        if (byte == 0) {
            out[code_pos] = code;
            code_pos = pos++;
            code = 1;
        } else {
            out[pos++] = byte;
            code++;
            if (code == 0xFFu && i + 1 < total) { /* a full block; no empty block at the very end */
                out[code_pos] = code;
                code_pos = pos++;
                code = 1;
            }
        }
    }
    out[code_pos] = code;
    return pos;
}

size_t kei_cobs_encode(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    return cobs_encode2(in, len, NULL, 0, out, cap);
}

size_t kei_frame_encode(const uint8_t *msg, size_t msg_len, uint8_t *out, size_t cap)
{
    uint8_t crc[KEI_CRC_LEN];
    size_t n;
    if (msg_len + KEI_CRC_LEN > KEI_MAX_BODY || cap < KEI_WIRE_MAX(msg_len + KEI_CRC_LEN)) {
        return 0;
    }
    kei_put_u16(crc, kei_crc16(msg, msg_len));
    n = cobs_encode2(msg, msg_len, crc, KEI_CRC_LEN, out, cap - 1u);
    out[n] = 0;
    return n + 1u;
}

void kei_decoder_init(kei_decoder_t *d)
{
    memset(d, 0, sizeof *d);
}

static void decoder_restart(kei_decoder_t *d)
{
    d->code = 0;
    d->block_left = 0;
    d->skipping = 0;
}

/* Append a decoded byte; an oversize body is counted at once and the rest of the frame skipped. */
static int decoder_append(kei_decoder_t *d, uint8_t byte)
{
    if (d->len >= KEI_MAX_BODY) {
        d->stats.oversize++;
        d->skipping = 1;
        return 0;
    }
    d->body[d->len++] = byte;
    return 1;
}

enum kei_decode_result kei_decoder_feed(kei_decoder_t *d, uint8_t byte)
{
    if (byte == 0) {
        enum kei_decode_result result = KEI_DECODE_NONE;
        if (d->skipping || d->code == 0) {
            /* the end of an oversize frame (already counted), or an empty frame (not counted) */
        } else if (d->block_left != 0) {
            d->stats.cobs++;
            result = KEI_DECODE_ERR_COBS;
        } else if (d->len < KEI_MIN_BODY) {
            d->stats.short_++;
            result = KEI_DECODE_ERR_SHORT;
        } else if (kei_crc16(d->body, d->len - KEI_CRC_LEN) != kei_get_u16(d->body + d->len - KEI_CRC_LEN)) {
            d->stats.crc++;
            result = KEI_DECODE_ERR_CRC;
        } else {
            d->stats.frames++;
            result = KEI_DECODE_FRAME;
        }
        decoder_restart(d);
        return result;
    }
    if (d->skipping) {
        return KEI_DECODE_NONE;
    }
    if (d->block_left == 0) { /* a code byte */
        if (d->code == 0) {
            d->len = 0; /* the first byte of a frame */
        } else if (d->code != 0xFFu && !decoder_append(d, 0)) {
            return KEI_DECODE_ERR_OVERSIZE; /* the previous block's implicit zero did not fit */
        }
        d->code = byte;
        d->block_left = (uint8_t)(byte - 1u);
        return KEI_DECODE_NONE;
    }
    if (!decoder_append(d, byte)) {
        return KEI_DECODE_ERR_OVERSIZE;
    }
    d->block_left--;
    return KEI_DECODE_NONE;
}
