/*
 * test_http_mime.c: Content-Type by extension (httpd/mime.c). Every entry of
 * the table is looked up, so an entry out of sort order fails here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "httpd/mime.h"
#include "support/guard.h"

#define UTF8 "; charset=utf-8"

static void expect_type(const char *path, const char *want)
{
    size_t len = strlen(path);
    const char *g = wk_test_guard(path, len);
    const char *got = http_mime_type(g, len);
    wk_test_guard_free(g, len);
    if (strcmp(got, want) != 0)
        fail_msg("\"%s\": \"%s\", want \"%s\"", path, got, want);
}

static void test_every_entry(void **state)
{
    (void)state;
    static const struct {
        const char *ext;
        const char *type;
    } all[] = {
        {"7z", "application/x-7z-compressed"},
        {"aac", "audio/aac"},
        {"apng", "image/apng"},
        {"avif", "image/avif"},
        {"bmp", "image/bmp"},
        {"bz2", "application/x-bzip2"},
        {"css", "text/css" UTF8},
        {"csv", "text/csv" UTF8},
        {"eml", "message/rfc822"},
        {"eot", "application/vnd.ms-fontobject"},
        {"epub", "application/epub+zip"},
        {"flac", "audio/flac"},
        {"gif", "image/gif"},
        {"gz", "application/gzip"},
        {"htm", "text/html" UTF8},
        {"html", "text/html" UTF8},
        {"ico", "image/x-icon"},
        {"ics", "text/calendar" UTF8},
        {"jpeg", "image/jpeg"},
        {"jpg", "image/jpeg"},
        {"js", "text/javascript" UTF8},
        {"json", "application/json"},
        {"jsonld", "application/ld+json"},
        {"m4a", "audio/mp4"},
        {"map", "application/json"},
        {"md", "text/markdown" UTF8},
        {"mjs", "text/javascript" UTF8},
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
        {"shtml", "text/html" UTF8},
        {"svg", "image/svg+xml"},
        {"tar", "application/x-tar"},
        {"tif", "image/tiff"},
        {"tiff", "image/tiff"},
        {"ttf", "font/ttf"},
        {"txt", "text/plain" UTF8},
        {"wasm", "application/wasm"},
        {"wav", "audio/wav"},
        {"weba", "audio/webm"},
        {"webm", "video/webm"},
        {"webmanifest", "application/manifest+json"},
        {"webp", "image/webp"},
        {"woff", "font/woff"},
        {"woff2", "font/woff2"},
        {"xhtml", "application/xhtml+xml"},
        {"xml", "text/xml" UTF8},
        {"xz", "application/x-xz"},
        {"zip", "application/zip"},
        {"zst", "application/zstd"},
    };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        char path[64];
        snprintf(path, sizeof(path), "/dir/file.%s", all[i].ext);
        expect_type(path, all[i].type);
    }
}

static void test_common_names(void **state)
{
    (void)state;
    { /* a bare name, a path, a directory with dots in it */
        expect_type("index.html", "text/html" UTF8);
        expect_type("/a/b/style.css", "text/css" UTF8);
        expect_type("/v1.2/app.min.js", "text/javascript" UTF8);
    }
    { /* only the last extension counts */
        expect_type("/dist/site.tar.gz", "application/gzip");
        expect_type("/page.html.txt", "text/plain" UTF8);
    }
    { /* case-insensitive */
        expect_type("/PHOTO.JPG", "image/jpeg");
        expect_type("/Page.Html", "text/html" UTF8);
        expect_type("/font.WOFF2", "font/woff2");
    }
}

static void test_fallback(void **state)
{
    (void)state;
    { /* no extension */
        expect_type("/README", HTTP_MIME_DEFAULT);
        expect_type("/bin/run", HTTP_MIME_DEFAULT);
        expect_type("", HTTP_MIME_DEFAULT);
        expect_type("/", HTTP_MIME_DEFAULT);
    }
    { /* a dot in a directory name is not an extension */
        expect_type("/site.html/README", HTTP_MIME_DEFAULT);
        expect_type("/a.css/", HTTP_MIME_DEFAULT);
    }
    { /* dotfiles, whatever follows */
        expect_type("/.profile", HTTP_MIME_DEFAULT);
        expect_type("/.html", HTTP_MIME_DEFAULT);
        expect_type("/dir/.config.json", HTTP_MIME_DEFAULT);
        expect_type(".htaccess", HTTP_MIME_DEFAULT);
    }
    { /* a trailing dot, unknown or overlong extensions */
        expect_type("/file.", HTTP_MIME_DEFAULT);
        expect_type("/file.exe", HTTP_MIME_DEFAULT);
        expect_type("/file.htmlx", HTTP_MIME_DEFAULT);
        expect_type("/file.ht", HTTP_MIME_DEFAULT);
        expect_type("/file.webmanifestwebmanifest", HTTP_MIME_DEFAULT);
        expect_type("/file.h\xc3\xa9ml", HTTP_MIME_DEFAULT);
    }
    { /* extensions that sort before and after every entry */
        expect_type("/f.0", HTTP_MIME_DEFAULT);
        expect_type("/f.zzz", HTTP_MIME_DEFAULT);
    }
    { /* the length is what counts, not a NUL after it */
        assert_string_equal(http_mime_type("/a.html", 6), "text/html" UTF8);
        assert_string_equal(http_mime_type("/a.html", 5), HTTP_MIME_DEFAULT);
        assert_string_equal(http_mime_type("/a.c\0ss", 7), HTTP_MIME_DEFAULT);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_entry),
        cmocka_unit_test(test_common_names),
        cmocka_unit_test(test_fallback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
