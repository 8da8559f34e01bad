/*
 * fuzz_smtp_data.c: the DATA phase (smtpd/data.c). Byte 0 picks the size
 * limit (bit 7 set: none; else 0-127 bytes); bytes 1-2 pick a split point
 * and seed the sizes of random pieces; the rest is what the client sends
 * after 354, possibly followed by the next commands.
 *
 * The stream is fed whole, split in two, one byte at a time and in random
 * pieces: every way gives the same message bytes, consumed count, done and
 * flags. No call writes more than its input plus SMTP_DATA_SLACK or consumes
 * past the end of data, and the message is never longer than what was
 * consumed. All of it agrees with a reference that reads the whole stream
 * at once: the end is the first ".\r\n" at the start or after a CR LF, a
 * line starts at the start or after a CR LF, bare CR and LF are the ones
 * not in a CR LF pair.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "smtpd/data.h"

struct outcome {
    char *msg; /* all the message bytes written, in order */
    size_t msg_len;
    size_t consumed;
    bool done;
    uint64_t size;
    bool too_big, line_too_long, bare_cr_lf;
};

/* Feeds in[0, n) as one call, from an exact-size heap copy into an exact-size output buffer. */
static void feed(struct smtp_data *d, const uint8_t *in, size_t n, struct outcome *o)
{
    char *copy = fuzz_copy(in, n);
    char *out = malloc(n + SMTP_DATA_SLACK);
    FUZZ_CHECK(out != NULL);
    size_t out_len = SIZE_MAX;
    bool done = false;
    size_t used = smtp_data_feed(d, copy, n, out, &out_len, &done);
    FUZZ_CHECK(used <= n);
    FUZZ_CHECK(done || used == n);
    FUZZ_CHECK(out_len <= n + SMTP_DATA_SLACK);
    FUZZ_CHECK(done == smtp_data_is_done(d));
    if (out_len > 0) {
        o->msg = realloc(o->msg, o->msg_len + out_len);
        FUZZ_CHECK(o->msg != NULL);
        memcpy(o->msg + o->msg_len, out, out_len);
        o->msg_len += out_len;
    }
    o->consumed += used;
    o->done = done;
    free(out);
    free(copy);
}

/* Small xorshift generator for piece sizes, seeded from the input. */
static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/*
 * Feeds p[0, n) in pieces: whole (mode 0), split at cut (1), one byte at a
 * time (2), or pieces of 0 to 16 bytes drawn from seed (3). Stops once done.
 */
static void run(const uint8_t *p, size_t n, uint64_t max, int mode, size_t cut, uint32_t seed,
                struct outcome *o)
{
    struct smtp_data d;
    smtp_data_init(&d, max);
    memset(o, 0, sizeof *o);
    size_t at = 0;
    do {
        size_t piece = n - at;
        if (mode == 1 && at < cut)
            piece = cut - at;
        else if (mode == 2 && piece > 1)
            piece = 1;
        else if (mode == 3 && next_rand(&seed) % 17 < piece)
            piece = seed % 17;
        feed(&d, p + at, piece, o);
        at += piece;
        FUZZ_CHECK(o->msg_len <= o->consumed);
        if (o->done)
            break;
    } while (at < n);
    o->size = d.size;
    o->too_big = d.too_big;
    o->line_too_long = d.line_too_long;
    o->bare_cr_lf = d.bare_cr_lf;
    FUZZ_CHECK(o->too_big == (d.size > max));
    FUZZ_CHECK(smtp_data_verdict(&d) == (o->too_big         ? SMTP_DATA_TOO_BIG
                                         : o->line_too_long ? SMTP_DATA_LINE_TOO_LONG
                                         : o->bare_cr_lf    ? SMTP_DATA_BARE_CR_LF
                                                            : SMTP_DATA_OK));
}

static bool same(const struct outcome *a, const struct outcome *b)
{
    return a->msg_len == b->msg_len && (a->msg_len == 0 || !memcmp(a->msg, b->msg, a->msg_len)) &&
           a->consumed == b->consumed && a->done == b->done && a->size == b->size &&
           a->too_big == b->too_big && a->line_too_long == b->line_too_long &&
           a->bare_cr_lf == b->bare_cr_lf;
}

/* Position i starts a line: the stream's start, or right after CR LF. */
static bool line_start(const uint8_t *p, size_t i)
{
    return i == 0 || (i >= 2 && p[i - 2] == '\r' && p[i - 1] == '\n');
}

/* The reference: the whole stream at once, by positions rather than states. */
static void reference(const uint8_t *p, size_t n, uint64_t max, struct outcome *o)
{
    memset(o, 0, sizeof *o);
    size_t end = n;
    for (size_t i = 0; i + 3 <= n; i++) {
        if (line_start(p, i) && p[i] == '.' && p[i + 1] == '\r' && p[i + 2] == '\n') {
            end = i;
            o->done = true;
            o->consumed = i + 3;
            break;
        }
    }
    if (!o->done)
        o->consumed = n;
    o->msg = malloc(end ? end : 1);
    FUZZ_CHECK(o->msg != NULL);
    uint64_t line = 0;
    for (size_t i = 0; i < end; i++) {
        bool stuffing = line_start(p, i) && p[i] == '.';
        /* Unfinished ".\r" at a line's start: the CR may yet end the data. */
        bool held = !o->done && i == n - 1 && p[i] == '\r' && i >= 1 && p[i - 1] == '.' &&
                    line_start(p, i - 1);
        if (p[i] == '\r' && i + 1 < n && p[i + 1] != '\n')
            o->bare_cr_lf = true;
        if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
            o->bare_cr_lf = true;
        if (stuffing || held)
            continue;
        o->size++;
        if (o->size <= max)
            o->msg[o->msg_len++] = (char)p[i];
        if (++line > SMTP_DATA_LINE_MAX)
            o->line_too_long = true;
        if (p[i] == '\n' && i >= 1 && p[i - 1] == '\r')
            line = 0;
    }
    o->too_big = o->size > max;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    uint64_t max = data[0] & 0x80 ? UINT64_MAX : data[0];
    const uint8_t *p = data + 3;
    size_t n = size - 3;
    size_t cut = ((size_t)data[1] << 8 | data[2]) % (n + 1);
    uint32_t seed = (uint32_t)cut * 2654435761u + 1;

    struct outcome want, got;
    reference(p, n, max, &want);
    for (int mode = 0; mode < 4; mode++) {
        run(p, n, max, mode, cut, seed, &got);
        FUZZ_CHECK(same(&got, &want));
        free(got.msg);
    }
    free(want.msg);
    return 0;
}
