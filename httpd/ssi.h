/*
 * ssi.h: server-side includes, the small subset the demo site uses. A
 * template is copied through as it is, except that each well-formed
 *
 *     <!--#echo var="name" -->
 *
 * is replaced by the HTML-escaped value of the variable. Whitespace between
 * the tokens is tolerated as Apache and nginx allow (`<!--# echo var = 'x'-->`),
 * the value may be in double or single quotes, and names are 1 to
 * HTTP_SSI_NAME_MAX characters of [a-z0-9_]. Anything else that looks like a
 * directive (another element, another attribute, a comment that never ends,
 * a name too long) is copied through verbatim. Pure: no I/O, no globals; what
 * the variables mean is the caller's business (httpd/file.c).
 */
#ifndef HTTP_SSI_H
#define HTTP_SSI_H

#include <stddef.h>

#include "common/buf.h"

#define HTTP_SSI_NAME_MAX    64       /* longest variable name */
#define HTTP_SSI_SCRATCH_LEN 8192     /* room a lookup may write a value into */
#define HTTP_SSI_UNKNOWN     "(none)" /* what an unknown variable expands to, as in Apache */

/*
 * Looks up one variable. name[0..len) is the name; it is also NUL-terminated.
 * Returns the value as a NUL-terminated string, either a string that lives at
 * least until the next lookup or one written into scratch[0..scratch_len)
 * (a longer value is the lookup's to truncate), or NULL for an unknown name.
 */
typedef const char *http_ssi_lookup_fn(void *arg, const char *name, size_t len, char *scratch,
                                       size_t scratch_len);

/*
 * Appends tpl[0..len) to out with every echo directive expanded through
 * lookup(arg, ...). Values are HTML-escaped; unknown variables expand to
 * HTTP_SSI_UNKNOWN. Never reads outside tpl[0..len) and needs no NUL.
 * Returns 0, -ENOBUFS (out's bound) or -ENOMEM; on error out may hold part of
 * the page, which the caller discards.
 */
int http_ssi_render(struct wk_buf *out, const char *tpl, size_t len, http_ssi_lookup_fn *lookup,
                    void *arg);

#endif
