/*
 * test_smtp_clients.c: sessions per client address.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "smtpd/clients.h"

static struct sockaddr_in6 v6(const char *text, unsigned port)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
    assert_int_equal(inet_pton(AF_INET6, text, &a.sin6_addr), 1);
    return a;
}

static struct sockaddr_in v4(const char *text, unsigned port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    assert_int_equal(inet_pton(AF_INET, text, &a.sin_addr), 1);
    return a;
}

static void test_limit_per_address(void **state)
{
    (void)state;
    struct smtp_clients *t = smtp_clients_new(7);
    struct sockaddr_in a1 = v4("127.0.0.1", 1000), a2 = v4("127.0.0.1", 2000);
    struct sockaddr_in other = v4("127.0.0.2", 1000);
    assert_true(smtp_clients_enter(t, (struct sockaddr *)&a1, 2));
    assert_true(smtp_clients_enter(t, (struct sockaddr *)&a2, 2)); /* another port, same address */
    assert_false(smtp_clients_enter(t, (struct sockaddr *)&a1, 2));
    assert_int_equal(smtp_clients_count(t, (struct sockaddr *)&a1), 2);
    assert_true(smtp_clients_enter(t, (struct sockaddr *)&other, 2));
    smtp_clients_leave(t, (struct sockaddr *)&a1);
    assert_int_equal(smtp_clients_count(t, (struct sockaddr *)&a2), 1);
    assert_true(smtp_clients_enter(t, (struct sockaddr *)&a1, 2));
    smtp_clients_free(t);
}

static void test_mapped_counts_as_ipv4(void **state)
{
    (void)state;
    struct smtp_clients *t = smtp_clients_new(3);
    struct sockaddr_in a = v4("192.0.2.7", 1);
    struct sockaddr_in6 m = v6("::ffff:192.0.2.7", 2), six = v6("2001:db8::7", 3);
    assert_true(smtp_clients_enter(t, (struct sockaddr *)&a, 1));
    assert_false(smtp_clients_enter(t, (struct sockaddr *)&m, 1));
    assert_true(smtp_clients_enter(t, (struct sockaddr *)&six, 1));
    smtp_clients_leave(t, (struct sockaddr *)&m);
    assert_int_equal(smtp_clients_count(t, (struct sockaddr *)&a), 0);
    assert_int_equal(smtp_clients_count(t, (struct sockaddr *)&six), 1);
    smtp_clients_free(t);
}

static void test_many_addresses_and_zero_limit(void **state)
{
    (void)state;
    struct smtp_clients *t = smtp_clients_new(5);
    for (unsigned i = 0; i < 1000; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000000u + i)};
        assert_true(smtp_clients_enter(t, (struct sockaddr *)&a, 1));
    }
    for (unsigned i = 0; i < 1000; i += 2) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000000u + i)};
        smtp_clients_leave(t, (struct sockaddr *)&a);
        assert_int_equal(smtp_clients_count(t, (struct sockaddr *)&a), 0);
    }
    struct sockaddr_in odd = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000001u)};
    assert_int_equal(smtp_clients_count(t, (struct sockaddr *)&odd), 1);
    struct sockaddr_in fresh = v4("198.51.100.1", 1);
    assert_false(smtp_clients_enter(t, (struct sockaddr *)&fresh, 0));
    struct sockaddr un = {.sa_family = AF_UNIX};
    assert_true(smtp_clients_enter(t, &un, 0)); /* local sockets are not limited */
    smtp_clients_free(t); /* frees the 500 entries left: the sanitizer build checks */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_per_address),
        cmocka_unit_test(test_mapped_counts_as_ipv4),
        cmocka_unit_test(test_many_addresses_and_zero_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
