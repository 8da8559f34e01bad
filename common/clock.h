/*
 * clock.h: time formats shared by both protocols. Pure functions, no I/O.
 */
#ifndef WK_CLOCK_H
#define WK_CLOCK_H

#include <stdint.h>
#include <time.h>

#define WK_CLOCK_IMF_LEN     30 /* "Sun, 06 Nov 1994 08:49:37 GMT" + NUL */
#define WK_CLOCK_CLF_LEN     29 /* "06/Nov/1994:08:49:37 +0000" + NUL, with room */
#define WK_CLOCK_RFC5322_LEN 40

/* Writes t as an IMF-fixdate (RFC 9110 5.6.7), always 29 characters. */
void wk_clock_imf_fixdate(time_t t, char out[WK_CLOCK_IMF_LEN]);

/* Writes t in UTC as Common Log Format's "06/Nov/1994:08:49:37 +0000". */
void wk_clock_clf(time_t t, char out[WK_CLOCK_CLF_LEN]);

/* Writes t as an RFC 5322 date in UTC: "Sun, 6 Nov 1994 08:49:37 +0000". */
void wk_clock_rfc5322(time_t t, char out[WK_CLOCK_RFC5322_LEN]);

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t wk_clock_monotonic_ms(void);

#endif
