/*
 * log.c: log lines to stderr. The program name, level and buffering are set
 * once at startup; the buffer is the only mutable state and belongs to the
 * process's single loop.
 */
#include "common/log.h"
#include "common/wk.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048
#define LOG_BUF_SIZE 32768

static const char *log_prog = "wellknown";
static enum wk_log_level log_level = WK_LOG_INFO;
static bool log_buffered;
static char log_buf[LOG_BUF_SIZE];
static size_t log_len;

void wk_log_init(const char *prog, enum wk_log_level level)
{
    log_prog = prog;
    log_level = level;
}

void wk_log_set_level(enum wk_log_level level)
{
    log_level = level;
}

enum wk_log_level wk_log_get_level(void)
{
    return log_level;
}

int wk_log_level_parse(const char *s, enum wk_log_level *out)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (size_t i = 0; i < WK_ARRAY_LEN(names); i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = (enum wk_log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

bool wk_log_enabled(enum wk_log_level level)
{
    return level <= log_level;
}

ssize_t wk_log_write_lines(int fd, const char *p, size_t n)
{
    size_t done = 0;
    while (done < n) {
        /* Whole lines, at most PIPE_BUF bytes: one write the kernel keeps in one piece. */
        size_t len = n - done;
        if (len > PIPE_BUF) {
            const char *cut = p + done + PIPE_BUF;
            while (cut > p + done && cut[-1] != '\n')
                cut--;
            len = cut > p + done ? (size_t)(cut - (p + done)) : PIPE_BUF; /* a line too long */
        }
        ssize_t w = write(fd, p + done, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EIO;
        done += (size_t)w;
    }
    return (ssize_t)done;
}

static void write_all(const char *p, size_t n)
{
    wk_log_write_lines(STDERR_FILENO, p, n); /* nowhere left to report a failing stderr */
}

void wk_log_flush(void)
{
    write_all(log_buf, log_len);
    log_len = 0;
}

void wk_log_set_buffered(bool on)
{
    if (!on)
        wk_log_flush();
    log_buffered = on;
}

static void log_emit(const char *fmt, va_list ap)
{
    char line[LOG_LINE_MAX];
    int n = snprintf(line, sizeof line, "%s ", log_prog);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2; /* truncated: keep the newline */
    line[len++] = '\n';
    if (!log_buffered) {
        write_all(line, len);
        return;
    }
    if (log_len + len > sizeof log_buf)
        wk_log_flush();
    memcpy(log_buf + log_len, line, len);
    log_len += len;
}

void wk_log(enum wk_log_level level, const char *fmt, ...)
{
    if (level > log_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_emit(fmt, ap);
    va_end(ap);
}

_Noreturn void wk_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_emit(fmt, ap);
    va_end(ap);
    wk_log_flush();
    exit(1);
}

static size_t escape(char *dst, size_t dstlen, const char *src, size_t len, unsigned char lowest)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (dstlen == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)src[i];
        bool plain = ch >= lowest && ch <= 0x7e && ch != '"' && ch != '\\';
        size_t need = plain ? 1 : 4;
        if (o + need >= dstlen)
            break;
        if (plain) {
            dst[o++] = (char)ch;
        } else {
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[ch >> 4];
            dst[o++] = hex[ch & 15];
        }
    }
    dst[o] = '\0';
    return o;
}

size_t wk_log_escape(char *dst, size_t dstlen, const char *src, size_t len)
{
    return escape(dst, dstlen, src, len, 0x21);
}

size_t wk_log_escape_quoted(char *dst, size_t dstlen, const char *src, size_t len)
{
    return escape(dst, dstlen, src, len, 0x20);
}
