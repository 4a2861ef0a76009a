/* What startup.c offers the rest of the port: the painted stack's size and high-water mark, and the
 * hooks a semihosted test image overrides (semihost.c). */
#ifndef STARTUP_H
#define STARTUP_H

#include <stddef.h>
#include <stdint.h>

#define STACK_PAINT 0xA5A5A5A5u /* a word the stack is filled with at reset */

size_t stack_size_bytes(void);
/* bytes from the top of the stack down to the deepest word ever written since reset */
size_t stack_used_bytes(void);

void board_pre_main(void);
void board_exit(int status) __attribute__((noreturn));
/* an unexpected exception (IPSR exception number); never returns */
void board_fault(uint32_t exception) __attribute__((noreturn));

#endif /* STARTUP_H */
