/*
 * registry.c: the list of a listener's open connections and its counters.
 * The entries belong to the connections that embed them.
 */
#include "common/registry.h"

void wk_registry_init(struct wk_registry *r)
{
    r->head.prev = &r->head;
    r->head.next = &r->head;
    r->open = 0;
    r->accepted = 0;
    r->closed = 0;
    r->bytes_in = r->bytes_out = 0;
    r->tls_handshakes = r->tls_failures = 0;
}

void wk_registry_add(struct wk_registry *r, struct wk_conn_info *info)
{
    info->next = &r->head;
    info->prev = r->head.prev;
    r->head.prev->next = info;
    r->head.prev = info;
    r->open++;
    r->accepted++;
}

void wk_registry_remove(struct wk_registry *r, struct wk_conn_info *info)
{
    info->prev->next = info->next;
    info->next->prev = info->prev;
    info->prev = info->next = NULL;
    r->open--;
    r->closed++;
    r->bytes_in += info->bytes_in;
    r->bytes_out += info->bytes_out;
}
