/* Time on the board: a millisecond tick from SysTick (the core's `millis`, the console's pacing)
 * and a free-running count of clock cycles from CMSDK timer 0 (profiling: cycles = instructions
 * under QEMU -icount shift=0 ... at the board's clock; see docs/firmware.md). */
#ifndef TIMEBASE_H
#define TIMEBASE_H

#include <stdint.h>

void timebase_init(uint32_t clock_hz);
uint32_t timebase_millis(void);
/* clock cycles since timebase_init, modulo 2^32 (wraps every 171 s at 25 MHz) */
uint32_t timebase_cycles(void);

#endif /* TIMEBASE_H */
