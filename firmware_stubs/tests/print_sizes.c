/* RAM the core needs: all of it is the kei_device_t the port allocates (the core has no statics). */
#include "kei_bms.h"

#include <stdio.h>

int main(void)
{
    printf("sizeof(kei_device_t) = %u bytes (of which telemetry cache %u, decoder %u, params %u)\n",
           (unsigned)sizeof(kei_device_t), (unsigned)sizeof(((kei_device_t *)0)->cache),
           (unsigned)sizeof(kei_decoder_t), (unsigned)sizeof(kei_params_t));
    return 0;
}
