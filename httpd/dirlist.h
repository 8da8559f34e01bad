/*
 * dirlist.h: the HTML index page of a directory that has no index file.
 * Reads the directory it is given; sends nothing, holds no state.
 */
#ifndef HTTP_DIRLIST_H
#define HTTP_DIRLIST_H

#include <stddef.h>

#include "common/buf.h"

/* The most entries a listing shows; past it, the page says it was cut. */
#define HTTP_DIRLIST_MAX_ENTRIES 4096

/*
 * Appends to out a complete HTML5 page "Index of URLPATH" listing the
 * directory open at dirfd. dirfd is only read through a descriptor of its
 * own: the caller's stays open and its position unchanged. urlpath is the
 * decoded path the directory was requested as, ending in '/', and is shown
 * HTML-escaped; links are relative, one percent-encoded segment each.
 *
 * Names starting with '.' are skipped. Directories come first with a
 * trailing '/', then the rest, each group sorted by strcmp; every entry
 * shows its size (lstat's) and modification time in UTC. A "../" link comes
 * first unless urlpath is "/". At most HTTP_DIRLIST_MAX_ENTRIES entries are
 * listed, then a line says the listing was cut. An entry that vanishes while
 * the directory is read is left out.
 *
 * Returns 0, -ENOBUFS if out's bound would be passed, -ENOMEM, or the
 * -errno of the failed openat, fdopendir, readdir or fstatat. On error
 * nothing is appended.
 */
int http_dirlist_render(struct wk_buf *out, int dirfd, const char *urlpath, size_t urlpath_len);

#endif
