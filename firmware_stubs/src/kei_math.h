/* The few math functions the core uses, in kei_real_t. <tgmath.h> would pick expf/exp by type,
 * but newlib (arm-none-eabi) cannot compile it; sizeof is a compile-time constant, so each call
 * below reduces to the float or the double function and the other branch is never linked. */
#ifndef KEI_MATH_H
#define KEI_MATH_H

#include "kei_bms.h"

#include <math.h>

#define KEI_IS_FLOAT (sizeof(kei_real_t) == sizeof(float))

static inline kei_real_t kei_exp(kei_real_t x)
{
    return KEI_IS_FLOAT ? (kei_real_t)expf((float)x) : (kei_real_t)exp((double)x);
}

static inline kei_real_t kei_sqrt(kei_real_t x)
{
    return KEI_IS_FLOAT ? (kei_real_t)sqrtf((float)x) : (kei_real_t)sqrt((double)x);
}

static inline kei_real_t kei_abs(kei_real_t x)
{
    return x < 0 ? -x : x;
}

/* like fmin/fmax: a NaN argument loses to a number */
static inline kei_real_t kei_min(kei_real_t a, kei_real_t b)
{
    return (b < a || a != a) ? b : a;
}

static inline kei_real_t kei_max(kei_real_t a, kei_real_t b)
{
    return (b > a || a != a) ? b : a;
}

#endif
