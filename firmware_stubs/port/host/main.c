/* kei_bms_host: the firmware core served on a pseudo-terminal (or a given tty) of a POSIX host,
 * so the bench can drive it like a board on a serial port (device-process contract in
 * docs/firmware.md). The core sees only bytes: this file owns every OS call.
 *
 *   kei_bms_host [--tty PATH] [--baud-pace BAUD] [--idle-exit-s S] [--device-id N] [--unconfigured]
 *
 * Without --tty it opens a pty pair, keeps the slave open (a host that closes the port and comes
 * back finds the device and its state intact), prints `PORT <slave path>` and serves until
 * SIGTERM/SIGINT (exit 0) or, with --idle-exit-s, until no byte has arrived for S seconds. */
#include "kei_bms.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include KEI_PACK_CONFIG_HEADER /* the boot configuration: `kei firmware config DESIGN` */

#define OUT_QUEUE_BYTES 65536u
#define IN_QUEUE_BYTES 4096u
#define LINK_DOWN_RETRY_S 0.1 /* poll a vanished tty this often instead of spinning */
#define BITS_PER_BYTE_8N1 10.0
#define FRAME_DELIMITER 0x00u /* protocol.md section 2: the core acts only when one has arrived */
#define SCHEDULE_EPS 1e-9     /* in byte times: a byte due exactly now counts as finished despite rounding */

static const char *const usage =
    "usage: kei_bms_host [--tty PATH] [--baud-pace BAUD] [--idle-exit-s S] [--device-id N] [--unconfigured]\n"
    "  --tty PATH        serve an existing tty or pty instead of creating a pty pair\n"
    "  --baud-pace BAUD  pace both directions like a full-duplex UART at BAUD 8N1 (BAUD/10 bytes/s each way);\n"
    "                    default unpaced\n"
    "  --idle-exit-s S   exit 0 when no byte has arrived for S seconds (0: never, the default)\n"
    "  --device-id N     HELLO_ACK device_id (default: random at start)\n"
    "  --unconfigured    boot without the compiled-in pack configuration (like the Python emulator)\n";

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint32_t millis(void *ctx)
{
    (void)ctx;
    return (uint32_t)(unsigned long long)(now_s() * 1000.0);
}

/* ---- byte queues: input read from the tty waits for the core, the core's answers for the tty ---- */
typedef struct {
    uint8_t *data;
    size_t cap, head, len; /* ring buffer */
} ring_t;

static uint8_t in_bytes[IN_QUEUE_BYTES], out_bytes[OUT_QUEUE_BYTES];
static ring_t in_q = {in_bytes, IN_QUEUE_BYTES, 0, 0}, out_q = {out_bytes, OUT_QUEUE_BYTES, 0, 0};

/* Position of the first `byte` in the queue, or of its newest byte when there is none. */
static size_t ring_find(const ring_t *q, uint8_t byte)
{
    size_t i;
    for (i = 0; i + 1 < q->len && q->data[(q->head + i) % q->cap] != byte; i++) {
    }
    return i;
}

static uint8_t ring_get(ring_t *q)
{
    uint8_t byte = q->data[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    return byte;
}

/* ---- --baud-pace: each direction of the pty crosses its own UART at BAUD 8N1 (full duplex) ----
 * A byte handed to the line finishes one byte time after the previous one finished, or after it was
 * handed over if the line was idle by then (no credit for idle time). The schedule is absolute: a
 * late wake-up finds more bytes finished, never a slower line. Unpaced (byte_s 0), a byte has
 * finished as soon as it is queued. */
typedef struct {
    double byte_s;      /* seconds per byte on the line; 0: unpaced */
    double last_done_s; /* when the newest byte handed to the line has finished */
} line_t;

static line_t rx_line, tx_line; /* host to device, device to host */

static void line_put(line_t *l, size_t n, double now)
{
    if (l->byte_s > 0) {
        l->last_done_s = (l->last_done_s > now ? l->last_done_s : now) + (double)n * l->byte_s;
    }
}

/* How many of the `queued` oldest bytes on the line have finished by `now`. */
static size_t line_finished(const line_t *l, size_t queued, double now)
{
    double crossing;
    if (l->byte_s <= 0 || now >= l->last_done_s) {
        return queued;
    }
    crossing = ceil((l->last_done_s - now) / l->byte_s - SCHEDULE_EPS);
    return crossing >= (double)queued ? 0 : queued - (size_t)crossing;
}

/* When the next frame delimiter in `q` (else its newest byte) has finished crossing the line.
 * Neither end acts on part of a frame, so waking per frame is as exact as waking per byte. */
static double line_next_frame_s(const line_t *l, const ring_t *q)
{
    return l->last_done_s - (double)(q->len - 1 - ring_find(q, FRAME_DELIMITER)) * l->byte_s;
}

static void queue_write(void *ctx, const uint8_t *data, size_t len)
{
    size_t i;
    (void)ctx;
    for (i = 0; i < len && out_q.len < out_q.cap; i++) { /* never overflows: input waits for room */
        out_q.data[(out_q.head + out_q.len) % out_q.cap] = data[i];
        out_q.len++;
    }
    line_put(&tx_line, i, tx_line.byte_s > 0 ? now_s() : 0.0);
}

/* The flags cfmakeraw sets, spelled out so the port needs nothing beyond POSIX. */
static int set_raw(int fd)
{
    struct termios t;
    if (tcgetattr(fd, &t) != 0) {
        return -1;
    }
    t.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
    t.c_oflag &= ~(tcflag_t)OPOST;
    t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
    t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
    t.c_cflag |= CS8 | CREAD | CLOCAL;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    return tcsetattr(fd, TCSANOW, &t);
}

static int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* A pty pair; *slave_fd stays open for the life of the process. Returns the master fd. */
static int open_pty(int *slave_fd, const char **slave_path)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0 || (*slave_path = ptsname(master)) == NULL) {
        perror("kei_bms_host: pty");
        return -1;
    }
    *slave_fd = open(*slave_path, O_RDWR | O_NOCTTY);
    if (*slave_fd < 0 || set_raw(*slave_fd) != 0 || set_raw(master) != 0) {
        perror("kei_bms_host: pty slave");
        return -1;
    }
    return master;
}

static int parse_number(const char *opt, const char *text, double lo, double hi, double *out)
{
    char *end = NULL;
    double v;
    if (text == NULL) {
        fprintf(stderr, "kei_bms_host: %s needs a value\n%s", opt, usage);
        return 0;
    }
    errno = 0;
    v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(v >= lo && v <= hi)) {
        fprintf(stderr, "kei_bms_host: %s: %s is not a number in [%g, %g]\n", opt, text, lo, hi);
        return 0;
    }
    *out = v;
    return 1;
}

typedef struct {
    const char *tty;
    double baud;       /* 0: unpaced */
    double idle_exit_s; /* 0: never */
    int have_device_id;
    uint32_t device_id;
    int unconfigured;
} options_t;

static int parse_args(int argc, char **argv, options_t *o)
{
    int i;
    double v;
    memset(o, 0, sizeof *o);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--tty") == 0 && next) {
            o->tty = next;
            i++;
        } else if (strcmp(a, "--baud-pace") == 0) {
            if (!parse_number(a, next, 1, 1e9, &o->baud)) {
                return 0;
            }
            i++;
        } else if (strcmp(a, "--idle-exit-s") == 0) {
            if (!parse_number(a, next, 0, 1e9, &o->idle_exit_s)) {
                return 0;
            }
            i++;
        } else if (strcmp(a, "--device-id") == 0) {
            if (!parse_number(a, next, 0, 4294967295.0, &v) || v != (double)(uint32_t)v) {
                return 0;
            }
            o->device_id = (uint32_t)v;
            o->have_device_id = 1;
            i++;
        } else if (strcmp(a, "--unconfigured") == 0) {
            o->unconfigured = 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            exit(0);
        } else {
            fprintf(stderr, "kei_bms_host: unknown or incomplete option %s\n%s", a, usage);
            return 0;
        }
    }
    return 1;
}

int main(int argc, char **argv)
{
    static const kei_configure_t boot_configure = KEI_PACK_CONFIGURE;
    static const kei_ocv_table_t boot_ocv = KEI_PACK_OCV_TABLE;
    static kei_device_t dev;
    options_t opt;
    kei_io_t io;
    int fd, slave_fd = -1, link_down = 0;
    const char *path;
    double last_rx_s, retry_at_s = 0.0;
    sigset_t block, unblocked;
    struct sigaction sa;

    if (!parse_args(argc, argv, &opt)) {
        return 2;
    }
    if (opt.tty) {
        path = opt.tty;
        fd = open(path, O_RDWR | O_NOCTTY);
        if (fd < 0) {
            fprintf(stderr, "kei_bms_host: cannot open %s: %s\n", path, strerror(errno));
            return 1;
        }
        (void)set_raw(fd); /* not a tty (a FIFO, a socket): raw is moot */
    } else if ((fd = open_pty(&slave_fd, &path)) < 0) {
        return 1;
    }
    if (set_nonblocking(fd) != 0) {
        perror("kei_bms_host: O_NONBLOCK");
        return 1;
    }

    /* signals stay blocked except inside pselect, so a SIGTERM can never slip past the check */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &unblocked);
    sigdelset(&unblocked, SIGTERM);
    sigdelset(&unblocked, SIGINT);

    memset(&io, 0, sizeof io);
    io.write = queue_write;
    io.millis = millis;
    if (opt.baud > 0) {
        rx_line.byte_s = tx_line.byte_s = BITS_PER_BYTE_8N1 / opt.baud;
    }
    if (!opt.have_device_id) {
        opt.device_id = (uint32_t)getpid() * 2654435761u ^ (uint32_t)(now_s() * 1e6);
    }
    kei_device_init(&dev, &io, opt.device_id, opt.unconfigured ? NULL : &boot_configure,
                    opt.unconfigured ? NULL : &boot_ocv);

    printf("PORT %s\n", path);
    fflush(stdout);
    last_rx_s = now_s();

    while (!stop_requested) {
        double now = now_s(), wait_s = 1.0;
        size_t n;
        fd_set rd, wr;
        struct timespec timeout;
        int ready;

        /* feed the core what has finished arriving, while a worst-case answer still fits the queue */
        for (n = line_finished(&rx_line, in_q.len, now);
             n > 0 && out_q.cap - out_q.len >= KEI_MAX_RESPONSE_BYTES; n--) {
            kei_device_feed(&dev, ring_get(&in_q));
        }

        n = line_finished(&tx_line, out_q.len, now); /* answers that have finished leaving */
        if (n > 0) {
            size_t first = out_q.cap - out_q.head;
            ssize_t written = write(fd, out_q.data + out_q.head, n < first ? n : first);
            if (written > 0) {
                out_q.head = (out_q.head + (size_t)written) % out_q.cap;
                out_q.len -= (size_t)written;
            } else if (written < 0 && errno != EAGAIN && errno != EINTR && !link_down) {
                fprintf(stderr, "kei_bms_host: write %s: %s\n", path, strerror(errno));
            }
        }

        now = now_s(); /* the waits below are measured from after the work above */
        if (opt.idle_exit_s > 0) {
            double left = last_rx_s + opt.idle_exit_s - now;
            if (left <= 0) {
                break;
            }
            wait_s = left < wait_s ? left : wait_s;
        }
        FD_ZERO(&rd);
        FD_ZERO(&wr);
        if (line_finished(&tx_line, out_q.len, now) > 0) {
            FD_SET(fd, &wr);
        } else if (out_q.len > 0) {
            double until = line_next_frame_s(&tx_line, &out_q) - now;
            wait_s = until < wait_s ? until : wait_s;
        }
        if (in_q.len > 0 && line_finished(&rx_line, in_q.len, now) == 0) {
            double until = line_next_frame_s(&rx_line, &in_q) - now;
            wait_s = until < wait_s ? until : wait_s;
        }
        if (in_q.len < in_q.cap) {
            if (link_down && now < retry_at_s) {
                double until = retry_at_s - now;
                wait_s = until < wait_s ? until : wait_s;
            } else {
                FD_SET(fd, &rd);
            }
        }
        wait_s = wait_s > 0 ? wait_s : 0;
        timeout.tv_sec = (time_t)wait_s;
        timeout.tv_nsec = (long)((wait_s - (double)timeout.tv_sec) * 1e9);
        ready = pselect(fd + 1, &rd, &wr, NULL, &timeout, &unblocked);
        if (ready < 0) {
            if (errno == EINTR) {
                continue;
            }
            perror("kei_bms_host: pselect");
            return 1;
        }
        if (ready > 0 && FD_ISSET(fd, &rd)) {
            size_t tail = (in_q.head + in_q.len) % in_q.cap, room = in_q.cap - in_q.len;
            ssize_t got = read(fd, in_q.data + tail, room < in_q.cap - tail ? room : in_q.cap - tail);
            if (got > 0) {
                in_q.len += (size_t)got;
                last_rx_s = now_s();
                line_put(&rx_line, (size_t)got, last_rx_s);
                link_down = 0;
            } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
                /* the far end went away (a pulled cable): keep the state, look again later */
                if (!link_down) {
                    fprintf(stderr, "kei_bms_host: %s: link down (%s), waiting\n", path,
                            got == 0 ? "end of file" : strerror(errno));
                }
                link_down = 1;
                retry_at_s = now_s() + LINK_DOWN_RETRY_S;
            }
        }
    }

    fprintf(stderr, "kei_bms_host: exit: %lu frames, errors cobs %lu crc %lu short %lu oversize %lu, "
            "last_seq %u, %lu steps\n",
            (unsigned long)dev.rx.stats.frames, (unsigned long)dev.rx.stats.cobs, (unsigned long)dev.rx.stats.crc,
            (unsigned long)dev.rx.stats.short_, (unsigned long)dev.rx.stats.oversize, (unsigned)dev.last_seq,
            (unsigned long)dev.step_count);
    if (slave_fd >= 0) {
        close(slave_fd);
    }
    close(fd);
    return 0;
}
