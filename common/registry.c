/*
 * registry.c: the counters of a listener summed over the workers, and the
 * copying of strings into entries.
 */
#include "common/registry.h"

#include <string.h>

void wk_registry_sum(const struct wk_scoreboard *sb, unsigned listener, struct wk_registry *out)
{
    *out = (struct wk_registry){0};
    for (unsigned w = 0; sb != NULL && w < wk_scoreboard_workers(sb); w++) {
        const struct wk_registry *r = wk_scoreboard_counters_of(sb, w, listener);
        if (r == NULL)
            continue;
        out->accepted += wk_scoreboard_get(&r->accepted);
        out->closed += wk_scoreboard_get(&r->closed);
        out->bytes_in += wk_scoreboard_get(&r->bytes_in);
        out->bytes_out += wk_scoreboard_get(&r->bytes_out);
        out->tls_handshakes += wk_scoreboard_get(&r->tls_handshakes);
        out->tls_failures += wk_scoreboard_get(&r->tls_failures);
    }
}

void wk_registry_copy(char *dst, size_t cap, const char *src)
{
    size_t n = src != NULL ? strnlen(src, cap - 1) : 0;
    if (n > 0)
        memcpy(dst, src, n);
    dst[n] = '\0';
}
