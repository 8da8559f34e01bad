/*
 * log.h: one line per event, "prog event key=value ...", to stderr or a file.
 *
 * The destination is fixed at startup; the level changes only on a reload.
 * Anything a peer sent goes through wk_log_escape() before it reaches a log
 * line.
 */
#ifndef WK_LOG_H
#define WK_LOG_H

#include <stdbool.h>
#include <sys/types.h>
#include <stddef.h>

enum wk_log_level {
    WK_LOG_ERROR,
    WK_LOG_WARN,
    WK_LOG_INFO,
    WK_LOG_DEBUG,
};

/* Sets the program name that starts each line ("httpd") and the level. */
void wk_log_init(const char *prog, enum wk_log_level level);

/* Changes the level (a reload), and gives the current one. */
void wk_log_set_level(enum wk_log_level level);
enum wk_log_level wk_log_get_level(void);

/* Parses "error", "warn", "info" or "debug". Returns 0 or -EINVAL. */
int wk_log_level_parse(const char *s, enum wk_log_level *out);

bool wk_log_enabled(enum wk_log_level level);

/* Writes "prog " followed by the formatted text and a newline, with one write. */
void wk_log(enum wk_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * While buffered, lines collect in memory and go out with wk_log_flush()
 * (the loop flushes before it sleeps): one write for a turn's worth of lines.
 * Switching buffering off flushes.
 */
void wk_log_set_buffered(bool on);
void wk_log_flush(void);

/* Logs at error level and exits 1. Only before the loop runs, or for broken invariants. */
_Noreturn void wk_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Copies src (len bytes, not NUL-terminated) into dst as printable ASCII:
 * bytes outside 0x21..0x7e and the characters '"' and '\\' become \xHH. The
 * result is NUL-terminated and truncated to fit; returns its length.
 */
size_t wk_log_escape(char *dst, size_t dstlen, const char *src, size_t len);

/* The same, but spaces pass through: for values logged between double quotes. */
size_t wk_log_escape_quoted(char *dst, size_t dstlen, const char *src, size_t len);

/*
 * Writes n bytes of log lines to fd in pieces of whole lines of at most
 * PIPE_BUF bytes, so that the lines of processes sharing fd (a server's
 * workers) never interleave within a line. Returns n or -errno.
 */
ssize_t wk_log_write_lines(int fd, const char *p, size_t n);

#endif
