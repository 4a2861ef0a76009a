/* The Arm MPS2+ board with the AN386 FPGA image (Cortex-M4 with FPU, CMSDK peripherals), as QEMU's
 * `mps2-an386` machine models it. Register maps: Arm AN386 (DAI 0386C) and the Cortex-M System Design
 * Kit TRM (DDI 0479C); the core's own registers: the Armv7-M Architecture Reference Manual (DDI 0403E).
 * Everything board-specific the port needs is in this header, so a board of the same family changes
 * only these addresses, IRQ numbers and the clock. */
#ifndef BOARD_H
#define BOARD_H

#include <stdint.h>

#define BOARD_NAME "mps2-an386"
#define BOARD_CLOCK_HZ 25000000u /* AN386: the FPGA clocks the Cortex-M4 and the APB peripherals at 25 MHz */

#define REG32(addr) (*(volatile uint32_t *)(addr))

/* ---- CMSDK APB UART (DDI 0479C section 4.3); AN386 table 4-2: UART0 at 0x40004000, UART1 0x40005000 ---- */
#define UART0_BASE 0x40004000u /* the protocol line (QEMU: the first -serial) */
#define UART1_BASE 0x40005000u /* the console: boot line and statistics (QEMU: the second -serial) */
#define UART_DATA(b) REG32((b) + 0x00u)
#define UART_STATE(b) REG32((b) + 0x04u)
#define UART_CTRL(b) REG32((b) + 0x08u)
#define UART_INTSTATUS(b) REG32((b) + 0x0Cu) /* read: status; write 1: clear */
#define UART_BAUDDIV(b) REG32((b) + 0x10u)
#define UART_STATE_TXFULL 0x1u
#define UART_STATE_RXFULL 0x2u
#define UART_STATE_RXOVERRUN 0x8u
#define UART_CTRL_TX_EN 0x1u
#define UART_CTRL_RX_EN 0x2u
#define UART_CTRL_TX_INTEN 0x4u
#define UART_CTRL_RX_INTEN 0x8u
#define UART_INT_TX 0x1u
#define UART_INT_RX 0x2u
#define UART_INT_RXOVERRUN 0x8u
#define UART_BAUDDIV_MIN 16u /* DDI 0479C: the divider must be at least 16 */
/* AN386 interrupt map: UART0 RX 0, TX 1; UART1 RX 2, TX 3 */
#define IRQ_UART0_RX 0
#define IRQ_UART0_TX 1
#define IRQ_UART1_RX 2
#define IRQ_UART1_TX 3
#define BOARD_IRQ_COUNT 32

/* ---- CMSDK APB timer 0 (DDI 0479C section 4.4): a 32-bit down counter at the APB clock ---- */
#define TIMER0_BASE 0x40000000u
#define TIMER_CTRL(b) REG32((b) + 0x00u)
#define TIMER_VALUE(b) REG32((b) + 0x04u)
#define TIMER_RELOAD(b) REG32((b) + 0x08u)
#define TIMER_CTRL_ENABLE 0x1u

/* ---- Cortex-M4 system registers (DDI 0403E section B3) ---- */
#define SYST_CSR REG32(0xE000E010u)
#define SYST_RVR REG32(0xE000E014u)
#define SYST_CVR REG32(0xE000E018u)
#define SYST_CSR_ENABLE 0x1u
#define SYST_CSR_TICKINT 0x2u
#define SYST_CSR_CLKSOURCE_CPU 0x4u
#define NVIC_ISER(n) REG32(0xE000E100u + 4u * (n))
#define NVIC_IPR8(n) (*(volatile uint8_t *)(0xE000E400u + (n)))
#define SCB_CPACR REG32(0xE000ED88u)
#define SCB_AIRCR REG32(0xE000ED0Cu)
#define SCB_AIRCR_RESET (0x05FA0000u | 0x4u) /* VECTKEY | SYSRESETREQ */
#define SCB_CPACR_CP10_CP11_FULL (0xFu << 20)

static inline void irq_enable(int irq)
{
    NVIC_ISER((unsigned)irq / 32u) = 1u << ((unsigned)irq % 32u);
}

/* PRIMASK: mask every interrupt; return the previous state for irq_restore */
static inline uint32_t irq_save(void)
{
    uint32_t primask;
    __asm volatile("mrs %0, primask\n cpsid i" : "=r"(primask)::"memory");
    return primask;
}

static inline void irq_restore(uint32_t primask)
{
    __asm volatile("msr primask, %0" ::"r"(primask) : "memory");
}

#endif /* BOARD_H */
