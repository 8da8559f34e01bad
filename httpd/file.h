/*
 * file.h: static files from the docroot: safe path resolution beneath the
 * root, directories (301, index, listing), conditional and range requests,
 * templates (*.shtml), and bodies handed to the connection for sendfile.
 */
#ifndef HTTP_FILE_H
#define HTTP_FILE_H

#include "httpd/response.h"

/* Answers a GET or HEAD for the request in t; every outcome is a response. */
void http_file_handle(struct http_txn *t);

#endif
