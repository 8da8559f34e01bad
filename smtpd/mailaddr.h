/*
 * mailaddr.h: the mailbox inside a MAIL or RCPT path (RFC 5321 4.1.2,
 * 4.5.3.1; RFC 6531 for SMTPUTF8), and the Maildir folder name made from
 * it. A pure parser: no I/O, no allocation, no locale.
 */
#ifndef SMTP_MAILADDR_H
#define SMTP_MAILADDR_H

#include <stdbool.h>
#include <stddef.h>

/* Longest local-part, in octets as sent, quotes included (RFC 5321 4.5.3.1.1). */
#define SMTP_LOCAL_MAX 64
/* Longest domain or address literal, brackets included (RFC 5321 4.5.3.1.2). */
#define SMTP_DOMAIN_MAX 255
/* Longest path, "<" and ">" included (RFC 5321 4.5.3.1.3). */
#define SMTP_PATH_MAX 256

/*
 * A parsed mailbox, NUL-terminated strings. local is the local-part
 * without the quotes of a quoted string and with its backslash escapes
 * resolved; domain is as sent, an address literal with its brackets
 * ("[192.0.2.1]", "[IPv6:::1]"). For "<>" null_path is set and both are
 * empty; for "<postmaster>" (any case) bare_postmaster is set, local is
 * "postmaster" and domain is empty.
 */
struct smtp_mailbox {
    char local[SMTP_LOCAL_MAX + 1];
    char domain[SMTP_DOMAIN_MAX + 1];
    bool null_path;
    bool bare_postmaster;
};

/*
 * Parses path[0, len), a whole "<...>" path with its brackets (as
 * smtp_command_parse() finds it); path need not be NUL-terminated. A
 * source route ("<@a,@b:user@host>") is accepted and ignored. With
 * allow_utf8 (the transaction is SMTPUTF8), well-formed UTF-8 may appear
 * in the local-part and in domain labels; without it any octet >= 0x80 is
 * a syntax error. Returns 0 and fills *out, or (*out then unspecified):
 *   -EINVAL        not an RFC 5321 path (including an address literal that
 *                  is not an IPv4 address or "IPv6:" and an IPv6 address);
 *   -ENAMETOOLONG  a path over SMTP_PATH_MAX octets (whatever it holds), or
 *                  an otherwise valid one whose local-part is over
 *                  SMTP_LOCAL_MAX or domain over SMTP_DOMAIN_MAX octets.
 */
int smtp_mailaddr_parse(const char *path, size_t len, bool allow_utf8, struct smtp_mailbox *out);

/*
 * Writes the Maildir folder name "local@domain", ASCII letters lowercased,
 * NUL-terminated, to out[0, cap). For a bare postmaster the caller fills
 * in the domain first. Returns 0, or:
 *   -EPERM         the name could escape or misbehave as a directory name:
 *                  it contains '/', a control character (C0, DEL or C1) or
 *                  "..", starts with '.', or is longer than NAME_MAX;
 *   -EINVAL        m is a null path, or has an empty domain, or a field
 *                  without its NUL;
 *   -ENAMETOOLONG  the name and its NUL do not fit in cap bytes.
 */
int smtp_mailaddr_folder(const struct smtp_mailbox *m, char *out, size_t cap);

/*
 * Writes m back as a mailbox, NUL-terminated, to out[0, cap): "local@domain"
 * (just "local" without a domain), the local-part as a Dot-string where it
 * can be one, else quoted with '"' and '\\' escaped; "" for a null path.
 * Case and UTF-8 are kept. Returns 0, or -ENAMETOOLONG when it does not fit.
 */
int smtp_mailaddr_format(const struct smtp_mailbox *m, char *out, size_t cap);

/*
 * Whether the domains a and b (C strings) are the same, ignoring ASCII
 * case and one trailing dot on either. An empty domain (or NULL, or ".")
 * equals nothing.
 */
bool smtp_mailaddr_domain_equal(const char *a, const char *b);

#endif
