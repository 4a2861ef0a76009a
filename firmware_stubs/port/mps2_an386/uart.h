/* CMSDK APB UART driver: interrupt-driven receive into a ring buffer, interrupt-driven transmit
 * from a ring buffer. One uart_t per UART; the buffers belong to the caller (sizes: powers of 2). */
#ifndef UART_H
#define UART_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t base;
    uint8_t *rx_buf, *tx_buf;
    uint32_t rx_mask, tx_mask;          /* capacity - 1 */
    volatile uint32_t rx_head, rx_tail; /* free-running: the RX ISR advances head, the main loop tail */
    volatile uint32_t tx_head, tx_tail; /* the main loop advances head, the TX ISR tail */
    volatile uint8_t tx_active;         /* a byte is in the transmitter; the TX ISR sends the next */
    uint8_t tx_drop_when_full;          /* 1: a full TX ring drops bytes (a console) instead of waiting */
    void (*wait)(void);                 /* what uart_write does while its TX ring is full (sleep) */
    /* counters */
    volatile uint32_t rx_bytes, rx_dropped, rx_overruns, rx_max_fill;
    uint32_t tx_bytes, tx_dropped;
} uart_t;

/* Program BAUDDIV for `baud` at `clock_hz`, enable TX (and RX if rx_buf), their interrupts, and
 * the NVIC lines. Returns 0 if `baud` is out of the divider's range. */
int uart_init(uart_t *u, uint32_t clock_hz, uint32_t baud, int rx_irq, int tx_irq);
/* The next received byte, or -1 if none is waiting. */
int uart_getc(uart_t *u);
uint32_t uart_rx_waiting(const uart_t *u);
/* Queue bytes for transmission. With tx_drop_when_full == 0 every byte is taken: the call waits
 * for room (u->wait, e.g. WFI) as the TX interrupt drains the ring. */
void uart_write(uart_t *u, const uint8_t *data, size_t len);
/* Bytes queued and not yet handed to the transmitter. */
uint32_t uart_tx_waiting(const uart_t *u);
/* The interrupt handlers' bodies (the vector table calls the board's handlers, which call these). */
void uart_rx_irq(uart_t *u);
void uart_tx_irq(uart_t *u);

#endif /* UART_H */
