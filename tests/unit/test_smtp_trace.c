/*
 * test_smtp_trace.c: the Return-Path: and Received: fields.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "smtpd/trace.h"

static char *render(const struct smtp_trace *t, size_t max, int *rc)
{
    static char text[4096];
    struct wk_buf b;
    wk_buf_init(&b, max);
    *rc = smtp_trace_headers(&b, t);
    memcpy(text, wk_buf_len(&b) ? wk_buf_data(&b) : "", wk_buf_len(&b));
    text[wk_buf_len(&b)] = '\0';
    wk_buf_fini(&b);
    return text;
}

static void test_one_recipient_ipv4(void **state)
{
    (void)state;
    struct smtp_trace t = {.helo = "client.example",
                           .client_ip = "127.0.0.1",
                           .client_port = 53422,
                           .hostname = "mx.example",
                           .protocol = "ESMTP",
                           .queue_id = "0123456789AB",
                           .sender = "a@b.example",
                           .recipient = "c@mx.example",
                           .when = 784111777};
    int rc;
    assert_string_equal(render(&t, 4096, &rc),
                        "Return-Path: <a@b.example>\r\n"
                        "Received: from client.example ([127.0.0.1]:53422)\r\n"
                        "\tby mx.example (wellknown) with ESMTP id 0123456789AB\r\n"
                        "\tfor <c@mx.example>; Sun, 6 Nov 1994 08:49:37 +0000\r\n");
    assert_int_equal(rc, 0);
}

static void test_null_sender_many_recipients_ipv6_and_hostile_helo(void **state)
{
    (void)state;
    struct smtp_trace t = {.helo = "x) (y\\z\x01",
                           .client_ip = "::1",
                           .client_port = 25,
                           .hostname = "h",
                           .protocol = "SMTP",
                           .queue_id = "Q",
                           .sender = "",
                           .recipient = NULL,
                           .when = 0};
    int rc;
    assert_string_equal(render(&t, 4096, &rc),
                        "Return-Path: <>\r\n"
                        "Received: from x?"
                        "?"
                        "?y?z? ([IPv6:::1]:25)\r\n"
                        "\tby h (wellknown) with SMTP id Q; Thu, 1 Jan 1970 00:00:00 +0000\r\n");
    assert_int_equal(rc, 0);
}

/* Paths keep what their syntax allows: UTF-8 (RFC 6532), a quoted local-part with its spaces. */
static void test_paths_kept_whole(void **state)
{
    (void)state;
    struct smtp_trace t = {.helo = "c\xc3\xa9",
                           .client_ip = "127.0.0.1",
                           .client_port = 1,
                           .hostname = "h",
                           .protocol = "UTF8SMTP",
                           .queue_id = "Q",
                           .sender = "\"a b\\\"c\"@x.example",
                           .recipient = "j\xc3\xb6ran@h\x01",
                           .when = 0};
    int rc;
    assert_string_equal(render(&t, 4096, &rc),
                        "Return-Path: <\"a b\\\"c\"@x.example>\r\n"
                        "Received: from c?? ([127.0.0.1]:1)\r\n"
                        "\tby h (wellknown) with UTF8SMTP id Q\r\n"
                        "\tfor <j\xc3\xb6ran@h?>; Thu, 1 Jan 1970 00:00:00 +0000\r\n");
    assert_int_equal(rc, 0);
}

static void test_bound_leaves_nothing(void **state)
{
    (void)state;
    struct smtp_trace t = {.helo = "c",
                           .client_ip = "127.0.0.1",
                           .client_port = 1,
                           .hostname = "h",
                           .protocol = "ESMTP",
                           .queue_id = "Q",
                           .sender = "s@x",
                           .recipient = "r@h",
                           .when = 0};
    int rc;
    assert_string_equal(render(&t, 40, &rc), "");
    assert_int_equal(rc, -ENOBUFS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_recipient_ipv4),
        cmocka_unit_test(test_null_sender_many_recipients_ipv6_and_hostile_helo),
        cmocka_unit_test(test_paths_kept_whole),
        cmocka_unit_test(test_bound_leaves_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
