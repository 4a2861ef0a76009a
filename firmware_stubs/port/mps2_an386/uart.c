/* CMSDK APB UART (DDI 0479C section 4.3): one byte of receive buffer and one of transmit buffer, an
 * RX interrupt when a byte has arrived and a TX interrupt when the transmit buffer has emptied. The
 * ISRs move bytes between those registers and the rings; the main loop never touches the UART. */
#include "uart.h"

#include "board.h"

int uart_init(uart_t *u, uint32_t clock_hz, uint32_t baud, int rx_irq, int tx_irq)
{
    uint32_t div = baud ? clock_hz / baud : 0, ctrl = UART_CTRL_TX_EN | UART_CTRL_TX_INTEN;
    if (div < UART_BAUDDIV_MIN || div > 0xFFFFFu) {
        return 0;
    }
    u->rx_head = u->rx_tail = u->tx_head = u->tx_tail = 0;
    u->tx_active = 0;
    u->rx_bytes = u->rx_dropped = u->rx_overruns = u->rx_max_fill = 0;
    u->tx_bytes = u->tx_dropped = 0;
    UART_CTRL(u->base) = 0;
    UART_BAUDDIV(u->base) = div;
    UART_INTSTATUS(u->base) = UART_INT_TX | UART_INT_RX | UART_INT_RXOVERRUN;
    if (u->rx_buf) {
        ctrl |= UART_CTRL_RX_EN | UART_CTRL_RX_INTEN;
        irq_enable(rx_irq);
    }
    irq_enable(tx_irq);
    UART_CTRL(u->base) = ctrl;
    return 1;
}

void uart_rx_irq(uart_t *u)
{
    /* clear first: a byte that lands after the last read below raises the interrupt again */
    UART_INTSTATUS(u->base) = UART_INT_RX;
    if (UART_STATE(u->base) & UART_STATE_RXOVERRUN) { /* a byte lost in the UART: the ISR was late */
        UART_STATE(u->base) = UART_STATE_RXOVERRUN;
        u->rx_overruns++;
    }
    while (UART_STATE(u->base) & UART_STATE_RXFULL) {
        uint8_t byte = (uint8_t)UART_DATA(u->base);
        uint32_t fill = u->rx_head - u->rx_tail;
        u->rx_bytes++;
        if (fill > u->rx_mask) { /* ring full: the main loop is behind; the protocol recovers */
            u->rx_dropped++;
            continue;
        }
        u->rx_buf[u->rx_head & u->rx_mask] = byte;
        u->rx_head++;
        if (fill + 1u > u->rx_max_fill) {
            u->rx_max_fill = fill + 1u;
        }
    }
}

int uart_getc(uart_t *u)
{
    uint8_t byte;
    if (u->rx_head == u->rx_tail) {
        return -1;
    }
    byte = u->rx_buf[u->rx_tail & u->rx_mask];
    u->rx_tail++;
    return byte;
}

uint32_t uart_rx_waiting(const uart_t *u)
{
    return u->rx_head - u->rx_tail;
}

uint32_t uart_tx_waiting(const uart_t *u)
{
    return u->tx_head - u->tx_tail;
}

void uart_tx_irq(uart_t *u)
{
    UART_INTSTATUS(u->base) = UART_INT_TX;
    if (u->tx_head != u->tx_tail && !(UART_STATE(u->base) & UART_STATE_TXFULL)) {
        UART_DATA(u->base) = u->tx_buf[u->tx_tail & u->tx_mask];
        u->tx_tail++;
    } else if (u->tx_head == u->tx_tail) {
        u->tx_active = 0;
    }
}

void uart_write(uart_t *u, const uint8_t *data, size_t len)
{
    while (len > 0) {
        uint32_t head = u->tx_head, room = u->tx_mask + 1u - (head - u->tx_tail), n, i, primask;
        if (room == 0) {
            if (u->tx_drop_when_full) {
                u->tx_dropped += (uint32_t)len;
                return;
            }
            u->wait(); /* the TX interrupt makes room */
            continue;
        }
        n = len < room ? (uint32_t)len : room;
        for (i = 0; i < n; i++) {
            u->tx_buf[(head + i) & u->tx_mask] = data[i];
        }
        u->tx_head = head + n;
        u->tx_bytes += n;
        data += n;
        len -= n;
        primask = irq_save();
        if (!u->tx_active) { /* the transmitter is idle: start it; its interrupt sends the rest */
            u->tx_active = 1;
            UART_DATA(u->base) = u->tx_buf[u->tx_tail & u->tx_mask];
            u->tx_tail++;
        }
        irq_restore(primask);
    }
}
