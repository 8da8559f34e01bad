/*
 * httpd.h: what the whole HTTP server shares: its configuration, the open
 * docroot, the access log and the cached Date header. One per process,
 * owned by main.c and reached through wk_server's data pointer.
 */
#ifndef HTTP_HTTPD_H
#define HTTP_HTTPD_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/tls.h"

#define HTTP_SERVER_SOFTWARE "wellknown/" WK_VERSION

struct http_accesslog;
struct http_dashboard;
struct http_dashboard_config;
struct http_filecache;
struct wk_tls;

struct http_config {
    struct wk_strlist listen;
    struct wk_strlist tls_listen;
    struct wk_tls_config tls;
    const char *root;
    const char *access_log;
    const char *log_level;
    uint64_t max_size;
    uint64_t max_request_line;
    uint64_t max_header_size;
    uint64_t max_headers;
    uint64_t max_connections;
    uint64_t backlog;
    uint64_t idle_timeout;
    uint64_t header_timeout;
    uint64_t body_timeout;
    uint64_t send_timeout;
    uint64_t shutdown_timeout;
    const char *user;          /* --user: who to be after startup, or NULL */
    uint64_t workers;          /* worker processes */
    const char *status_socket; /* httpd's own, or NULL */
    const char *smtpd_status;  /* smtpd's, for the socket view, or NULL */
    struct wk_strlist dashboard_allow;
    bool no_dashboard;
};

struct http_server {
    const struct http_config *cfg;
    int root_fd;                                  /* the docroot, opened O_PATH */
    struct http_accesslog *alog;                  /* NULL when the access log is off */
    struct http_filecache *files;                 /* open files of the docroot */
    struct wk_tls *tls;                           /* the HTTPS context, NULL when TLS is off */
    struct http_dashboard *dash;                  /* the routes under /-/, NULL when off */
    const struct http_dashboard_config *dash_cfg; /* who may see them, and smtpd's socket */
    time_t date_at;                               /* the second date was made for */
    char date[WK_CLOCK_IMF_LEN];                  /* Date header value, remade once a second */
};

#endif
