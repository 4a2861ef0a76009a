/* What the fuzz target saw, so a run can show it reached the interesting paths. */
#ifndef FUZZ_STATS_H
#define FUZZ_STATS_H

typedef struct {
    unsigned long inputs;
    unsigned long frames;      /* accepted by the decoder */
    unsigned long errors[4];   /* cobs, crc, short, oversize */
    unsigned long answers[5];  /* HELLO_ACK, ACK, NACK, TELEMETRY, FAULT from the device */
    unsigned long steps;       /* steps the device applied */
} fuzz_stats_t;

extern fuzz_stats_t fuzz_stats;

#endif
