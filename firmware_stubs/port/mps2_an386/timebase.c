#include "timebase.h"

#include "board.h"

#define TICKS_PER_S 1000u

static volatile uint32_t ms_ticks;

void SysTick_Handler(void)
{
    ms_ticks++;
}

void timebase_init(uint32_t clock_hz)
{
    /* timer 0 counts down from 2^32 - 1 and reloads it: its complement counts cycles up */
    TIMER_CTRL(TIMER0_BASE) = 0;
    TIMER_RELOAD(TIMER0_BASE) = 0xFFFFFFFFu;
    TIMER_VALUE(TIMER0_BASE) = 0xFFFFFFFFu;
    TIMER_CTRL(TIMER0_BASE) = TIMER_CTRL_ENABLE;
    SYST_RVR = clock_hz / TICKS_PER_S - 1u;
    SYST_CVR = 0;
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSOURCE_CPU;
}

uint32_t timebase_millis(void)
{
    return ms_ticks;
}

uint32_t timebase_cycles(void)
{
    return ~TIMER_VALUE(TIMER0_BASE);
}
