/*
 * test_wk_registry.c: a listener's counters summed over the workers of a
 * scoreboard (common/registry.c), and strings copied into entries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/registry.h"
#include "common/scoreboard.h"

static struct wk_scoreboard *board(unsigned workers, unsigned listeners)
{
    struct wk_scoreboard_shape shape = {
        .workers = workers,
        .listeners = listeners,
        .slots = 4,
        .slot_size = sizeof(struct wk_conn_info),
        .counters_size = sizeof(struct wk_registry),
    };
    struct wk_scoreboard *sb;
    assert_int_equal(wk_scoreboard_new(&shape, &sb), 0);
    return sb;
}

static void test_sum_over_workers(void **state)
{
    (void)state;
    struct wk_scoreboard *sb = board(3, 2);
    for (unsigned w = 0; w < 3; w++) {
        struct wk_registry *r = wk_scoreboard_counters(sb, w, 1);
        wk_scoreboard_add(&r->accepted, 10 + w);
        wk_scoreboard_add(&r->closed, 5 + w);
        wk_scoreboard_add(&r->bytes_in, 100);
        wk_scoreboard_add(&r->bytes_out, 1000);
        wk_scoreboard_add(&r->tls_handshakes, w);
        wk_scoreboard_add(&r->tls_failures, 1);
    }
    struct wk_registry sum;
    wk_registry_sum(sb, 1, &sum);
    assert_int_equal(sum.accepted, 33);
    assert_int_equal(sum.closed, 18);
    assert_int_equal(sum.bytes_in, 300);
    assert_int_equal(sum.bytes_out, 3000);
    assert_int_equal(sum.tls_handshakes, 3);
    assert_int_equal(sum.tls_failures, 3);
    { /* the other listener is untouched */
        wk_registry_sum(sb, 0, &sum);
        assert_int_equal(sum.accepted, 0);
        assert_int_equal(sum.closed, 0);
    }
    { /* a listener out of range, or no scoreboard: zeros */
        wk_registry_sum(sb, 7, &sum);
        assert_int_equal(sum.accepted, 0);
        wk_registry_sum(NULL, 0, &sum);
        assert_int_equal(sum.bytes_out, 0);
    }
    wk_scoreboard_free(sb);
}

static void test_copy(void **state)
{
    (void)state;
    char phase[WK_PHASE_MAX];
    memset(phase, 'x', sizeof phase);
    wk_registry_copy(phase, sizeof phase, "idle");
    assert_string_equal(phase, "idle");
    { /* cut to fit, always terminated */
        wk_registry_copy(phase, sizeof phase, "a-phase-name-longer-than-fits");
        assert_int_equal(strlen(phase), WK_PHASE_MAX - 1);
        assert_memory_equal(phase, "a-phase-name-lo", WK_PHASE_MAX - 1);
    }
    { /* the longest phase the servers use fits whole */
        wk_registry_copy(phase, sizeof phase, "reading-request");
        assert_string_equal(phase, "reading-request");
    }
    { /* NULL is the empty string */
        wk_registry_copy(phase, sizeof phase, NULL);
        assert_string_equal(phase, "");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sum_over_workers),
        cmocka_unit_test(test_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
