#include "console.h"

#include "board.h"
#include "kei_bms.h" /* KEI_FIRMWARE_NAME: every line starts with it */

#include <stddef.h>

#define LINE_BYTES 400u

static uart_t *out;
static char line[LINE_BYTES];
static size_t len;

static void put(const char *s)
{
    while (*s && len < LINE_BYTES - 1u) {
        line[len++] = *s++;
    }
}

static void put_u64(uint64_t v)
{
    char digits[21];
    int n = 0;
    do {
        digits[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v);
    while (n > 0 && len < LINE_BYTES - 1u) {
        line[len++] = digits[--n];
    }
}

static void put_hex(uint32_t v)
{
    int shift;
    put("0x");
    for (shift = 28; shift >= 0 && len < LINE_BYTES - 1u; shift -= 4) {
        line[len++] = "0123456789abcdef"[(v >> shift) & 0xFu];
    }
}

void console_begin(uart_t *u, const char *what)
{
    out = u;
    len = 0;
    put(KEI_FIRMWARE_NAME ": ");
    put(what);
}

static void key(const char *k)
{
    put(" ");
    put(k);
    put("=");
}

void console_str(const char *k, const char *value)
{
    key(k);
    put(value);
}

void console_u64(const char *k, uint64_t value)
{
    key(k);
    put_u64(value);
}

void console_hex(const char *k, uint32_t value)
{
    key(k);
    put_hex(value);
}

void console_end(void)
{
    line[len++] = '\n';
    uart_write(out, (const uint8_t *)line, len);
}

void console_panic(uart_t *u, const char *text, uint32_t number)
{
    size_t i;
    console_begin(u, text);
    put(" ");
    put_u64(number);
    line[len++] = '\n';
    for (i = 0; i < len; i++) {
        while (UART_STATE(u->base) & UART_STATE_TXFULL) {
        }
        UART_DATA(u->base) = (uint8_t)line[i];
    }
}
