/* A minimal Cortex-M4 image for `make size-arm`: the core, one static kei_device_t and a UART
 * write stub, linked with --gc-sections, so `size` shows the flash and RAM a board port starts
 * from (libm's expf/sqrtf included; no vector table or startup code beyond newlib's). */
#include "kei_bms.h"

static kei_device_t device;
static volatile uint8_t uart_data_register; /* stands in for the UART's TX register */

static void uart_write(void *ctx, const uint8_t *data, size_t len)
{
    size_t i;
    (void)ctx;
    for (i = 0; i < len; i++) {
        uart_data_register = data[i];
    }
}

int main(void)
{
    kei_io_t io = {uart_write, 0, 0, 0};
    kei_device_init(&device, &io, 1, 0, 0);
    for (;;) {
        kei_device_feed(&device, uart_data_register); /* a real port feeds its RX interrupt's bytes */
    }
}
