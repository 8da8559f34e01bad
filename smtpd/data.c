/*
 * data.c: the DATA phase as a byte-at-a-time state machine (see data.h).
 * It owns end-of-data detection, unstuffing and the limit flags of one
 * message; it does not own the input or output buffers, the mail store,
 * or the replies.
 *
 * Lines end only at CR LF. A line's leading '.' is never part of the
 * message: either it is stuffing (removed) or it starts the ".\r\n" that
 * ends the data. The CR after it is held back until the next byte says
 * which; every other byte is written as soon as it is read.
 */
#include "smtpd/data.h"

#include <string.h>

enum {
    AT_LINE_START, /* first line, or right after CR LF */
    AFTER_DOT,     /* a line's leading '.', dropped */
    AFTER_DOT_CR,  /* ".\r" at a line's start: the CR is held back */
    IN_LINE,       /* inside a line, the last byte not a CR */
    AFTER_CR,      /* inside a line, right after a CR already written */
    DONE,          /* "\r\n.\r\n" seen */
};

/* Where the message bytes of one smtp_data_feed() call go. */
struct sink {
    char *out;
    size_t len;
};

void smtp_data_init(struct smtp_data *d, uint64_t max_size)
{
    memset(d, 0, sizeof *d);
    d->state = AT_LINE_START;
    d->max_size = max_size;
}

/* Adds p[0, n), bytes of the current line, to the message. */
static void emit(struct smtp_data *d, struct sink *s, const char *p, size_t n)
{
    if (!d->too_big) {
        /* While the message fits, size <= max_size. */
        uint64_t room = d->max_size - d->size;
        size_t k = n;
        if (n > room) {
            k = (size_t)room;
            d->too_big = true;
        }
        memcpy(s->out + s->len, p, k);
        s->len += k;
    }
    d->size += n;
    d->line_len += n;
    if (d->line_len > SMTP_DATA_LINE_MAX)
        d->line_too_long = true;
}

/* One byte of line content, given whether the byte before it was a CR. */
static void content_byte(struct smtp_data *d, struct sink *s, const char *p)
{
    bool after_cr = d->state == AFTER_CR;
    if (after_cr != (*p == '\n'))
        d->bare_cr_lf = true; /* a CR without its LF, or an LF without its CR */
    emit(d, s, p, 1);
    if (after_cr && *p == '\n') {
        d->line_len = 0;
        d->state = AT_LINE_START;
    } else {
        d->state = *p == '\r' ? AFTER_CR : IN_LINE;
    }
}

/* Length of the run at p[0, n) holding neither CR nor LF. */
static size_t plain_run(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && p[i] != '\r' && p[i] != '\n')
        i++;
    return i;
}

/* Consumes in[*i] (and, inside a line, the plain bytes after it). */
static void step(struct smtp_data *d, struct sink *s, const char *in, size_t len, size_t *i)
{
    const char *p = in + *i;
    switch (d->state) {
    case AT_LINE_START:
        if (*p == '.')
            d->state = AFTER_DOT;
        else
            content_byte(d, s, p);
        break;
    case AFTER_DOT:
        if (*p == '\r')
            d->state = AFTER_DOT_CR;
        else
            content_byte(d, s, p); /* "..", ".x": the first dot was stuffing */
        break;
    case AFTER_DOT_CR:
        if (*p == '\n') {
            d->state = DONE;
            break;
        }
        /* ".\r" then not LF: a stuffing dot and a bare CR; write the CR now. */
        d->state = IN_LINE;
        content_byte(d, s, "\r");
        content_byte(d, s, p);
        break;
    case IN_LINE: {
        size_t run = plain_run(p, len - *i);
        if (run > 0) {
            emit(d, s, p, run);
            *i += run;
            return;
        }
        content_byte(d, s, p);
        break;
    }
    default: /* AFTER_CR */
        content_byte(d, s, p);
        break;
    }
    (*i)++;
}

size_t smtp_data_feed(struct smtp_data *d, const char *in, size_t len, char *out, size_t *out_len,
                      bool *done)
{
    struct sink s = {.out = out, .len = 0};
    size_t i = 0;
    while (i < len && d->state != DONE)
        step(d, &s, in, len, &i);
    *out_len = s.len;
    *done = d->state == DONE;
    return i;
}

bool smtp_data_is_done(const struct smtp_data *d)
{
    return d->state == DONE;
}

enum smtp_data_verdict smtp_data_verdict(const struct smtp_data *d)
{
    if (d->too_big)
        return SMTP_DATA_TOO_BIG;
    if (d->line_too_long)
        return SMTP_DATA_LINE_TOO_LONG;
    if (d->bare_cr_lf)
        return SMTP_DATA_BARE_CR_LF;
    return SMTP_DATA_OK;
}
