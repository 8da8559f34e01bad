/*
 * path.h: turns a request-target into the decoded, normalized path that the
 * file handler looks up beneath the document root. Pure: no I/O, no state.
 */
#ifndef HTTP_PATH_H
#define HTTP_PATH_H

#include <stddef.h>

/*
 * Normalizes the request-target target[0..len) (origin-form "/a/b?q", or
 * absolute-form "http://host:80/a/b?q" whose scheme, http or https in any
 * case, and authority are dropped; an absolute-form without a path means
 * "/"). The query and the
 * fragment are dropped, the path is percent-decoded once ("%2F" becomes an
 * ordinary '/'), empty segments are collapsed and "." and ".." segments
 * resolved as RFC 3986 5.2.4 does. A trailing '/' is kept, and added when the
 * path ends in "/." or "/..".
 *
 * Writes the result, always starting with '/', NUL-terminated, into
 * out[0..outcap) and its length without the NUL into *outlen. An outcap of
 * len + 1 is always enough.
 *
 * Returns 0; -EINVAL when the path does not start with '/' (this includes
 * "*" and authority-form), on bad percent-encoding, a decoded NUL byte or a
 * raw control byte; -EPERM when ".." would climb above the root; or
 * -ENAMETOOLONG when out is too small. On error out holds nothing useful.
 */
int http_path_normalize(const char *target, size_t len, char *out, size_t outcap, size_t *outlen);

#endif
