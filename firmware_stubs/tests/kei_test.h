/* A minimal check framework for the C tests: each program counts its checks and ends with one
 * line `<name>: N passed, N failed`; the exit status is 1 if any failed. */
#ifndef KEI_TEST_H
#define KEI_TEST_H

#include <math.h>
#include <stdio.h>

static int kt_passed, kt_failed;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (cond) {                                                                      \
            kt_passed++;                                                                 \
        } else {                                                                         \
            kt_failed++;                                                                 \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);      \
        }                                                                                \
    } while (0)

/* |got - want| <= tol, reporting both numbers */
#define CHECK_NEAR(got, want, tol)                                                       \
    do {                                                                                 \
        double kt_g = (double)(got), kt_w = (double)(want), kt_t = (double)(tol);        \
        if (fabs(kt_g - kt_w) <= kt_t) {                                                 \
            kt_passed++;                                                                 \
        } else {                                                                         \
            kt_failed++;                                                                 \
            fprintf(stderr, "%s:%d: %s = %.9g, want %.9g +- %.3g\n", __FILE__, __LINE__, \
                    #got, kt_g, kt_w, kt_t);                                             \
        }                                                                                \
    } while (0)

#define CHECK_EQ_INT(got, want)                                                          \
    do {                                                                                 \
        long kt_g = (long)(got), kt_w = (long)(want);                                    \
        if (kt_g == kt_w) {                                                              \
            kt_passed++;                                                                 \
        } else {                                                                         \
            kt_failed++;                                                                 \
            fprintf(stderr, "%s:%d: %s = %ld, want %ld\n", __FILE__, __LINE__, #got, kt_g, \
                    kt_w);                                                               \
        }                                                                                \
    } while (0)

static int kt_summary(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, kt_passed, kt_failed);
    return kt_failed != 0;
}

#endif
