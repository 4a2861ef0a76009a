/* Linked into the test images only (never the firmware): the C test programs of tests/ run on the
 * target under QEMU, their stdout/stderr and exit status carried by Arm semihosting (newlib's
 * librdimon; QEMU -semihosting-config enable=on,target=native). */
#include "startup.h"

#include <stdio.h>
#include <stdlib.h>

extern void initialise_monitor_handles(void);

void board_pre_main(void)
{
    initialise_monitor_handles();
}

void board_exit(int status)
{
    fflush(stdout);
    fflush(stderr);
    exit(status);
}

void board_fault(uint32_t exception)
{
    fprintf(stderr, "fault: exception %lu\n", (unsigned long)exception);
    exit(99);
}
