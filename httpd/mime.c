/*
 * mime.c: the extension table and its lookup (see mime.h). The table is
 * sorted by extension (strcmp order; lower-case letters and digits only)
 * for a binary search; the unit test looks up every entry, so one out of
 * order is caught there.
 */
#include "httpd/mime.h"

#include <stdbool.h>
#include <string.h>

#define TEXT(t) t "; charset=utf-8"

/* Longest extension in the table; longer ones cannot match. */
#define MIME_EXT_MAX 16

struct mime_entry {
    const char *ext;
    const char *type;
};

static const struct mime_entry mime_table[] = {
    {"7z", "application/x-7z-compressed"},
    {"aac", "audio/aac"},
    {"apng", "image/apng"},
    {"avif", "image/avif"},
    {"bmp", "image/bmp"},
    {"bz2", "application/x-bzip2"},
    {"css", TEXT("text/css")},
    {"csv", TEXT("text/csv")},
    {"eml", "message/rfc822"},
    {"eot", "application/vnd.ms-fontobject"},
    {"epub", "application/epub+zip"},
    {"flac", "audio/flac"},
    {"gif", "image/gif"},
    {"gz", "application/gzip"},
    {"htm", TEXT("text/html")},
    {"html", TEXT("text/html")},
    {"ico", "image/x-icon"},
    {"ics", TEXT("text/calendar")},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", TEXT("text/javascript")},
    {"json", "application/json"},
    {"jsonld", "application/ld+json"},
    {"m4a", "audio/mp4"},
    {"map", "application/json"},
    {"md", TEXT("text/markdown")},
    {"mjs", TEXT("text/javascript")},
    {"mov", "video/quicktime"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"mpeg", "video/mpeg"},
    {"oga", "audio/ogg"},
    {"ogg", "audio/ogg"},
    {"ogv", "video/ogg"},
    {"opus", "audio/ogg"},
    {"otf", "font/otf"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"rss", "application/rss+xml"},
    {"rtf", "application/rtf"},
    {"shtml", TEXT("text/html")},
    {"svg", "image/svg+xml"},
    {"tar", "application/x-tar"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"ttf", "font/ttf"},
    {"txt", TEXT("text/plain")},
    {"wasm", "application/wasm"},
    {"wav", "audio/wav"},
    {"weba", "audio/webm"},
    {"webm", "video/webm"},
    {"webmanifest", "application/manifest+json"},
    {"webp", "image/webp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"xhtml", "application/xhtml+xml"},
    {"xml", TEXT("text/xml")},
    {"xz", "application/x-xz"},
    {"zip", "application/zip"},
    {"zst", "application/zstd"},
};

/*
 * The extension of the last segment: after its last '.'. Names without one,
 * and dotfiles (".profile", ".config.json"), have none.
 */
static bool find_extension(const char *path, size_t len, const char **ext, size_t *n)
{
    size_t seg = len;
    while (seg > 0 && path[seg - 1] != '/')
        seg--;
    if (seg == len || path[seg] == '.')
        return false;
    size_t dot = len;
    while (dot > seg && path[dot - 1] != '.')
        dot--;
    if (dot == seg)
        return false;
    *ext = path + dot;
    *n = len - dot;
    return *n > 0 && *n <= MIME_EXT_MAX;
}

static const char *lookup(const char *ext)
{
    size_t lo = 0, hi = sizeof(mime_table) / sizeof(mime_table[0]);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(ext, mime_table[mid].ext);
        if (cmp == 0)
            return mime_table[mid].type;
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return HTTP_MIME_DEFAULT;
}

/* Lower-cases an extension into out; false if it has a byte no entry has. */
static bool fold_extension(const char *ext, size_t n, char out[MIME_EXT_MAX + 1])
{
    for (size_t k = 0; k < n; k++) {
        char c = ext[k];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            return false;
        out[k] = c;
    }
    out[n] = '\0';
    return true;
}

const char *http_mime_type(const char *path, size_t len)
{
    const char *ext;
    size_t n;
    char lower[MIME_EXT_MAX + 1];
    if (!find_extension(path, len, &ext, &n) || !fold_extension(ext, n, lower))
        return HTTP_MIME_DEFAULT;
    return lookup(lower);
}
