/*
 * mime.h: Content-Type of a static file from its name's extension. Pure: a
 * built-in const table, no I/O, no state.
 */
#ifndef HTTP_MIME_H
#define HTTP_MIME_H

#include <stddef.h>

#define HTTP_MIME_DEFAULT "application/octet-stream"

/*
 * The media type for the file named by the last segment of path[0..len),
 * looked up by its extension, case-insensitively. Text types carry
 * "; charset=utf-8". A name without extension, any dotfile (".profile",
 * ".config.json") or an unknown extension gives HTTP_MIME_DEFAULT. The
 * result is a static string.
 */
const char *http_mime_type(const char *path, size_t len);

#endif
