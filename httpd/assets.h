/*
 * assets.h: the files of the socket view's page (HTML, CSS, JavaScript),
 * compiled into httpd from httpd/dashboard/ so that /-/ works whatever the
 * docroot is. The table is generated at build time (cmake/embed.cmake).
 */
#ifndef HTTP_ASSETS_H
#define HTTP_ASSETS_H

#include <stddef.h>

struct http_asset {
    const char *name; /* "sockets.js": served as /-/sockets.js */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
    const char *etag; /* a quoted strong validator: part of the content's SHA-1 */
};

/* Every asset, then an entry whose name is NULL. */
extern const struct http_asset http_assets[];

#endif
