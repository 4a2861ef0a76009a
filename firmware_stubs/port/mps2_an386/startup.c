/* Reset and exceptions of the Cortex-M4: the vector table, the C runtime set-up (.data copied,
 * .bss zeroed), the FPU switched on, the stack painted so its high-water mark can be measured on
 * target, then main(). No library start-up code: this is all that runs before main. */
#include "board.h"
#include "startup.h"

#include <stddef.h>

extern uint32_t __data_start[], __data_end[], __data_load[], __bss_start[], __bss_end[];
extern uint32_t __stack_bottom[], __stack_top[];

int main(void);

void Reset_Handler(void);
void Default_Handler(void);
void HardFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SysTick_Handler(void) __attribute__((weak, alias("Default_Handler")));
void uart0_rx_isr(void) __attribute__((weak, alias("Default_Handler")));
void uart0_tx_isr(void) __attribute__((weak, alias("Default_Handler")));
void uart1_rx_isr(void) __attribute__((weak, alias("Default_Handler")));
void uart1_tx_isr(void) __attribute__((weak, alias("Default_Handler")));

/* what a semihosted test image does before and after main (semihost.c); the firmware: nothing, and
 * main never returns */
void board_pre_main(void) __attribute__((weak));
void board_pre_main(void)
{
}
void board_exit(int status) __attribute__((weak, noreturn));
void board_exit(int status)
{
    (void)status;
    for (;;) {
        __asm volatile("wfi");
    }
}

typedef void (*vector_t)(void);

#define SYSTEM_VECTORS 16
/* Armv7-M: initial SP, Reset, NMI, HardFault, MemManage, BusFault, UsageFault, 4 reserved,
 * SVCall, DebugMonitor, reserved, PendSV, SysTick; then the board's interrupts */
__attribute__((section(".vectors"), used)) static const vector_t vectors[SYSTEM_VECTORS + BOARD_IRQ_COUNT] = {
    (vector_t)(uintptr_t)__stack_top,
    Reset_Handler,
    Default_Handler, /* NMI */
    HardFault_Handler,
    Default_Handler, /* MemManage */
    Default_Handler, /* BusFault */
    Default_Handler, /* UsageFault */
    0, 0, 0, 0,
    Default_Handler, /* SVCall */
    Default_Handler, /* DebugMonitor */
    0,
    Default_Handler, /* PendSV */
    SysTick_Handler,
    [SYSTEM_VECTORS + IRQ_UART0_RX] = uart0_rx_isr,
    [SYSTEM_VECTORS + IRQ_UART0_TX] = uart0_tx_isr,
    [SYSTEM_VECTORS + IRQ_UART1_RX] = uart1_rx_isr,
    [SYSTEM_VECTORS + IRQ_UART1_TX] = uart1_tx_isr,
};

void Reset_Handler(void)
{
    uint32_t *dst, *src, *sp;
#if defined(__ARM_FP)
    /* the FPU (CP10, CP11) must be on before the first floating-point instruction */
    SCB_CPACR |= SCB_CPACR_CP10_CP11_FULL;
    __asm volatile("dsb\n isb" ::: "memory");
#endif
    for (src = __data_load, dst = __data_start; dst < __data_end;) {
        *dst++ = *src++;
    }
    for (dst = __bss_start; dst < __bss_end;) {
        *dst++ = 0;
    }
    /* paint the unused stack below this frame; stack_used_bytes() finds the deepest word touched */
    __asm volatile("mov %0, sp" : "=r"(sp));
    for (dst = __stack_bottom; dst < sp - 1;) {
        *dst++ = STACK_PAINT;
    }
    board_pre_main();
    board_exit(main());
}

size_t stack_size_bytes(void)
{
    return (size_t)((uintptr_t)__stack_top - (uintptr_t)__stack_bottom);
}

size_t stack_used_bytes(void)
{
    const uint32_t *p = __stack_bottom;
    while (p < __stack_top && *p == STACK_PAINT) {
        p++;
    }
    return (size_t)((uintptr_t)__stack_top - (uintptr_t)p);
}

/* An unexpected exception. The firmware (main.c) reports it and resets: the contactor must open,
 * and the host restores the session from its log with CONFIGURE. A test image exits failed. */
void board_fault(uint32_t exception) __attribute__((weak, noreturn));
void board_fault(uint32_t exception)
{
    (void)exception;
    SCB_AIRCR = SCB_AIRCR_RESET;
    for (;;) {
    }
}

void Default_Handler(void)
{
    uint32_t ipsr;
    __asm volatile("mrs %0, ipsr" : "=r"(ipsr));
    board_fault(ipsr & 0x1FFu);
}
