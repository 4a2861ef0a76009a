/* The console UART: one line of text at a time, built without printf (no heap, no stdio in the
 * image). Lines are `key=value` pairs the bench parses (hil/firmware/console.py). */
#ifndef CONSOLE_H
#define CONSOLE_H

#include <stdint.h>

#include "uart.h"

void console_begin(uart_t *u, const char *what);
void console_str(const char *key, const char *value);
void console_u64(const char *key, uint64_t value);
void console_hex(const char *key, uint32_t value);
void console_end(void); /* appends the newline and queues the line */
/* Polled output with interrupts off (the fault handler): bypasses the ring. */
void console_panic(uart_t *u, const char *text, uint32_t number);

#endif /* CONSOLE_H */
