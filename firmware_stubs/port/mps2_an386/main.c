/* kei BMS firmware for the MPS2+ AN386 (Cortex-M4F), the image `kei firmware build --target
 * mps2-an386` makes and `kei hil run --emulator qemu` runs under qemu-system-arm.
 *
 * The protocol runs on UART0 at 115200 8N1: its RX interrupt fills a ring buffer, the main loop
 * feeds the core one byte at a time and sleeps (WFI) when the ring is empty; the core's answers go
 * into a TX ring drained by the TX interrupt. The pack configuration is compiled in (pack_config.h,
 * `kei firmware config DESIGN`), so the board boots configured like the host program. UART1 is a
 * console: a boot line, then a statistics line (frames, errors, ring use, stack high-water mark,
 * cycles spent) each second while the protocol line is busy and once it goes quiet.
 *
 * A launcher may write boot arguments into RAM before the CPU starts (QEMU `-device loader`):
 * device id and flags; without them the board uses its defaults. */
#include "kei_bms.h"

#include "board.h"
#include "console.h"
#include "startup.h"
#include "timebase.h"
#include "uart.h"

#include KEI_PACK_CONFIG_HEADER /* the boot configuration: `kei firmware config DESIGN` */

#define PROTOCOL_BAUD 115200u  /* protocol.md section 1: the reference rate */
#define CONSOLE_BAUD 115200u
#define RX_RING_BYTES 512u     /* 32 STEP frames: twice what the host keeps in flight */
#define TX_RING_BYTES 512u     /* > KEI_MAX_RESPONSE_BYTES (143): one answer never waits for the line */
#define CONSOLE_RING_BYTES 1024u
#define REPORT_PERIOD_MS 1000u /* statistics while the line is busy ... */
#define REPORT_QUIET_MS 50u    /* ... and this long after its last byte */

/* boot arguments (hil/firmware/qemu.py writes them; the layout is shared with it) */
#define BOOT_ARGS_MAGIC 0x4B454942u /* "KEIB" */
#define BOOT_FLAG_UNCONFIGURED 0x1u
#define DEFAULT_DEVICE_ID 0x03860001u /* a board without a launcher: a fixed id (a product reads its serial number) */
typedef struct {
    uint32_t magic;
    uint32_t device_id;
    uint32_t flags;
} boot_args_t;
__attribute__((section(".boot_args"), used)) volatile boot_args_t boot_args;

#if defined(__ARM_PCS_VFP)
#define FLOAT_ABI "hard"
#else
#define FLOAT_ABI "soft"
#endif

static kei_device_t device;
static uint8_t rx_ring[RX_RING_BYTES], tx_ring[TX_RING_BYTES], console_ring[CONSOLE_RING_BYTES];
static void wait_for_tx_room(void);
static uart_t proto = {.base = UART0_BASE, .rx_buf = rx_ring, .tx_buf = tx_ring, .rx_mask = RX_RING_BYTES - 1u,
                       .tx_mask = TX_RING_BYTES - 1u, .wait = wait_for_tx_room};
static uart_t console = {.base = UART1_BASE, .tx_buf = console_ring, .tx_mask = CONSOLE_RING_BYTES - 1u,
                         .tx_drop_when_full = 1};

/* where the cycles go: asleep (WFI, also while the core waits for TX room), inside kei_device_feed
 * (awake), printing statistics; busy is everything but sleep and the console */
static uint64_t idle_cycles, feed_cycles, console_cycles;
static uint64_t uptime_cycles; /* the 32-bit counter extended: the main loop runs at least every ms */
static uint32_t last_cycles;

static uint64_t uptime(void)
{
    uint32_t now = timebase_cycles();
    uptime_cycles += (uint32_t)(now - last_cycles);
    last_cycles = now;
    return uptime_cycles;
}

void uart0_rx_isr(void)
{
    uart_rx_irq(&proto);
}

void uart0_tx_isr(void)
{
    uart_tx_irq(&proto);
}

void uart1_tx_isr(void)
{
    uart_tx_irq(&console);
}

/* WFI with interrupts masked, so a wake-up between the check and the WFI is never missed; the
 * interrupt runs after irq_restore. Time asleep is idle. */
static void sleep_unless(int work_waiting)
{
    uint32_t primask = irq_save();
    if (!work_waiting) {
        uint32_t t0 = timebase_cycles();
        __asm volatile("wfi");
        idle_cycles += (uint32_t)(timebase_cycles() - t0);
    }
    irq_restore(primask);
}

static void wait_for_tx_room(void)
{
    sleep_unless(uart_tx_waiting(&proto) <= proto.tx_mask);
}

static void protocol_write(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx;
    uart_write(&proto, data, len);
}

static uint32_t millis(void *ctx)
{
    (void)ctx;
    return timebase_millis();
}

static void report(void)
{
    uint32_t t0 = timebase_cycles();
    const kei_frame_stats_t *s = &device.rx.stats;
    console_begin(&console, "stats");
    console_u64("uptime_ms", timebase_millis());
    console_u64("cycles", uptime());
    console_u64("steps", device.step_count);
    console_u64("last_seq", device.last_seq);
    console_u64("frames", s->frames);
    console_u64("cobs", s->cobs);
    console_u64("crc", s->crc);
    console_u64("short", s->short_);
    console_u64("oversize", s->oversize);
    console_u64("rx_bytes", proto.rx_bytes);
    console_u64("rx_dropped", proto.rx_dropped);
    console_u64("rx_overruns", proto.rx_overruns);
    console_u64("rx_max_fill", proto.rx_max_fill);
    console_u64("tx_bytes", proto.tx_bytes);
    console_u64("tx_waiting", uart_tx_waiting(&proto)); /* queued, not yet in the transmitter */
    console_u64("idle_cycles", idle_cycles);
    console_u64("feed_cycles", feed_cycles);
    console_u64("console_cycles", console_cycles);
    console_u64("stack_used", stack_used_bytes());
    console_u64("stack_size", stack_size_bytes());
    console_end();
    console_cycles += (uint32_t)(timebase_cycles() - t0);
}

void board_fault(uint32_t exception)
{
    (void)irq_save();
    console_panic(&console, "fault: exception, reset", exception);
    SCB_AIRCR = SCB_AIRCR_RESET;
    for (;;) {
    }
}

int main(void)
{
    static const kei_configure_t boot_configure = KEI_PACK_CONFIGURE;
    static const kei_ocv_table_t boot_ocv = KEI_PACK_OCV_TABLE;
    int have_args = boot_args.magic == BOOT_ARGS_MAGIC;
    uint32_t device_id = have_args ? boot_args.device_id : DEFAULT_DEVICE_ID;
    int unconfigured = have_args && (boot_args.flags & BOOT_FLAG_UNCONFIGURED);
    uint32_t last_rx_ms = 0, last_report_ms = 0;
    int dirty = 0, configured;
    kei_io_t io = {.write = protocol_write, .millis = millis};

    timebase_init(BOARD_CLOCK_HZ);
    last_cycles = timebase_cycles();
    uart_init(&console, BOARD_CLOCK_HZ, CONSOLE_BAUD, IRQ_UART1_RX, IRQ_UART1_TX);
    uart_init(&proto, BOARD_CLOCK_HZ, PROTOCOL_BAUD, IRQ_UART0_RX, IRQ_UART0_TX);
    configured = kei_device_init(&device, &io, device_id, unconfigured ? 0 : &boot_configure,
                                 unconfigured ? 0 : &boot_ocv);

    console_begin(&console, "boot");
    console_str("board", BOARD_NAME);
    console_hex("device_id", device_id);
    console_u64("configured", (uint64_t)configured);
    console_str("float", FLOAT_ABI);
    console_u64("clock_hz", BOARD_CLOCK_HZ);
    console_u64("baud", PROTOCOL_BAUD);
    console_u64("device_bytes", sizeof device);
    console_u64("stack_size", stack_size_bytes());
    console_end();

    for (;;) {
        int byte;
        uint32_t now;
        while ((byte = uart_getc(&proto)) >= 0) {
            uint64_t idle_before = idle_cycles; /* a full TX ring sleeps inside the core's write */
            uint32_t t0 = timebase_cycles();
            kei_device_feed(&device, (uint8_t)byte);
            feed_cycles += (uint32_t)(timebase_cycles() - t0) - (idle_cycles - idle_before);
            dirty = 1;
            last_rx_ms = timebase_millis();
        }
        (void)uptime();
        now = timebase_millis();
        if (dirty && (now - last_report_ms >= REPORT_PERIOD_MS || now - last_rx_ms >= REPORT_QUIET_MS)) {
            report();
            last_report_ms = now;
            dirty = 0;
        }
        sleep_unless(uart_rx_waiting(&proto) != 0);
    }
}
