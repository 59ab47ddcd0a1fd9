/* SPDX-License-Identifier: MIT */
/* Unit tests for server/http/conns.c: admission under the total and per-client bounds,
 * eviction of the oldest idle or still-sending connection, the refusal when every one is
 * inside a request, and the header and idle deadlines. Kills are recorded, not done. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/conns.h"

#define KILLS_MAX 64
static int kills[KILLS_MAX];
static size_t n_kills;

static void record_kill(int fd)
{
    assert_true(n_kills < KILLS_MAX);
    kills[n_kills++] = fd;
}

static struct bg_conns *registry(size_t max, size_t per_client)
{
    struct bg_conns_limits lim = {.max = max,
                                  .hard_max = max * 2,
                                  .per_client_max = per_client,
                                  .header_ms = 10000,
                                  .idle_ms = 60000,
                                  .kill = record_kill};
    n_kills = 0;
    return bg_conns_new(&lim);
}

/* Admit fd for peer at now and start it at once, as MHD would. */
static struct bg_conn *open_conn(struct bg_conns *c, int fd, const char *peer, int64_t now)
{
    assert_true(bg_conns_admit(c, fd, peer, now));
    return bg_conns_started(c, fd, now);
}

static void expect_kills(const int *fds, size_t n)
{
    assert_int_equal(n_kills, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(kills[i], fds[i]);
}

static void test_per_client_bound_evicts_own_oldest(void **state)
{
    (void)state;
    struct bg_conns *c = registry(100, 3);

    open_conn(c, 10, "pid 1", 1000);
    open_conn(c, 11, "pid 1", 1001);
    open_conn(c, 12, "pid 1", 1002);
    open_conn(c, 20, "pid 2", 1003);
    /* the fourth of pid 1 evicts pid 1's oldest, not pid 2's */
    open_conn(c, 13, "pid 1", 1004);
    expect_kills((int[]){10}, 1);
    assert_int_equal(bg_conns_state(c, 10), BG_CONN_CLOSING);
    assert_int_equal(bg_conns_count(c, "pid 1"), 3);
    assert_int_equal(bg_conns_count(c, "pid 2"), 1);
    assert_int_equal(bg_conns_count(c, NULL), 4);
    bg_conns_free(c);
}

static void test_total_bound_evicts_oldest_idle(void **state)
{
    (void)state;
    struct bg_conns *c = registry(3, 100);

    struct bg_conn *a = open_conn(c, 10, "pid 1", 1000);
    struct bg_conn *b = open_conn(c, 11, "pid 2", 1001);
    open_conn(c, 12, "pid 3", 1002);
    /* a is inside a request; b went idle after one, at 2000 */
    bg_conns_event(c, a, BG_CONN_EV_HEADERS, 1500);
    bg_conns_event(c, a, BG_CONN_EV_HANDLER, 1500);
    bg_conns_event(c, b, BG_CONN_EV_HEADERS, 1500);
    bg_conns_event(c, b, BG_CONN_EV_HANDLER, 1500);
    bg_conns_event(c, b, BG_CONN_EV_DONE, 2000);
    /* 12 has been still sending since 1002, the longest of the evictable: it goes first */
    open_conn(c, 13, "pid 4", 3000);
    expect_kills((int[]){12}, 1);
    open_conn(c, 14, "pid 4", 3001);
    expect_kills((int[]){12, 11}, 2);
    assert_int_equal(bg_conns_state(c, 10), BG_CONN_ACTIVE);
    bg_conns_free(c);
}

static void test_refused_when_all_inside_requests(void **state)
{
    (void)state;
    struct bg_conns *c = registry(2, 100);

    struct bg_conn *a = open_conn(c, 10, "pid 1", 1000);
    struct bg_conn *b = open_conn(c, 11, "pid 1", 1000);
    bg_conns_event(c, a, BG_CONN_EV_HANDLER, 1001);
    bg_conns_event(c, b, BG_CONN_EV_UPGRADE, 1001);
    assert_false(bg_conns_admit(c, 12, "pid 2", 2000));
    assert_int_equal(n_kills, 0);
    assert_int_equal(bg_conns_state(c, 12), -1);
    /* once one closes, there is room again */
    bg_conns_closed(c, a);
    assert_true(bg_conns_admit(c, 12, "pid 2", 2001));
    bg_conns_free(c);
}

static void test_per_client_refused_when_own_all_busy(void **state)
{
    (void)state;
    struct bg_conns *c = registry(100, 1);

    struct bg_conn *a = open_conn(c, 10, "pid 1", 1000);
    bg_conns_event(c, a, BG_CONN_EV_HANDLER, 1001);
    assert_false(bg_conns_admit(c, 11, "pid 1", 1002));
    assert_true(bg_conns_admit(c, 12, "pid 2", 1002));
    assert_int_equal(n_kills, 0);
    bg_conns_free(c);
}

static void test_header_deadline(void **state)
{
    (void)state;
    struct bg_conns *c = registry(100, 100);

    struct bg_conn *a = open_conn(c, 10, "pid 1", 1000);
    open_conn(c, 11, "pid 1", 5000);
    assert_int_equal(bg_conns_expire(c, 10999), 11000);
    assert_int_equal(n_kills, 0);
    /* a request line does not extend a first request's deadline */
    bg_conns_event(c, a, BG_CONN_EV_REQUEST_LINE, 10000);
    assert_int_equal(bg_conns_expire(c, 11000), 15000);
    expect_kills((int[]){10}, 1);
    /* killed once only */
    assert_int_equal(bg_conns_expire(c, 12000), 15000);
    assert_int_equal(n_kills, 1);
    bg_conns_free(c);
}

static void test_body_then_handler_has_no_deadline(void **state)
{
    (void)state;
    struct bg_conns *c = registry(100, 100);

    struct bg_conn *a = open_conn(c, 10, "pid 1", 1000);
    /* headers at 9000: the body has until 19000 */
    bg_conns_event(c, a, BG_CONN_EV_HEADERS, 9000);
    assert_int_equal(bg_conns_expire(c, 18000), 19000);
    /* a handler that runs for minutes (a VM start under TCG) is never killed */
    bg_conns_event(c, a, BG_CONN_EV_HANDLER, 18500);
    assert_int_equal(bg_conns_expire(c, 18500 + 600000), INT64_MAX);
    assert_int_equal(n_kills, 0);
    bg_conns_free(c);
}

static void test_idle_deadline(void **state)
{
    (void)state;
    struct bg_conns *c = registry(100, 100);

    struct bg_conn *a = open_conn(c, 10, "pid 1", 1000);
    bg_conns_event(c, a, BG_CONN_EV_HEADERS, 1001);
    bg_conns_event(c, a, BG_CONN_EV_HANDLER, 1001);
    bg_conns_event(c, a, BG_CONN_EV_DONE, 2000);
    assert_int_equal(bg_conns_state(c, 10), BG_CONN_IDLE);
    assert_int_equal(bg_conns_expire(c, 61999), 62000);
    /* the next request line on the kept-alive connection: the header deadline from now */
    bg_conns_event(c, a, BG_CONN_EV_REQUEST_LINE, 30000);
    assert_int_equal(bg_conns_state(c, 10), BG_CONN_RECEIVING);
    assert_int_equal(bg_conns_expire(c, 30000), 40000);
    bg_conns_event(c, a, BG_CONN_EV_DONE, 31000);
    assert_int_equal(bg_conns_expire(c, 91000), INT64_MAX);
    expect_kills((int[]){10}, 1);
    bg_conns_free(c);
}

static void test_upgraded_stays(void **state)
{
    (void)state;
    struct bg_conns *c = registry(100, 100);

    struct bg_conn *a = open_conn(c, 10, "pid 1", 1000);
    bg_conns_event(c, a, BG_CONN_EV_HANDLER, 1001);
    bg_conns_event(c, a, BG_CONN_EV_UPGRADE, 1001);
    /* MHD reports the request done before the stream runs: it stays upgraded */
    bg_conns_event(c, a, BG_CONN_EV_DONE, 1002);
    assert_int_equal(bg_conns_state(c, 10), BG_CONN_UPGRADED);
    assert_int_equal(bg_conns_expire(c, 10000000), INT64_MAX);
    assert_int_equal(n_kills, 0);
    bg_conns_free(c);
}

static void test_streamed_body_deadline(void **state)
{
    (void)state;
    struct bg_conns *c = registry(1, 100);

    struct bg_conn *a = open_conn(c, 10, "pid 1", 1000);
    bg_conns_event(c, a, BG_CONN_EV_HEADERS, 1001);
    /* the handler took the bytes so far at 5000: the next ones are due by 15000 */
    bg_conns_event(c, a, BG_CONN_EV_HANDLER, 2000);
    bg_conns_event(c, a, BG_CONN_EV_STREAM, 5000);
    assert_int_equal(bg_conns_state(c, 10), BG_CONN_STREAMING);
    assert_int_equal(bg_conns_expire(c, 14999), 15000);
    /* a handler passing a piece on (to a slow guest) has no deadline */
    bg_conns_event(c, a, BG_CONN_EV_HANDLER, 14000);
    assert_int_equal(bg_conns_expire(c, 100000), INT64_MAX);
    bg_conns_event(c, a, BG_CONN_EV_STREAM, 100000);
    /* never evicted while it streams: a new connection is refused instead */
    assert_false(bg_conns_admit(c, 11, "pid 2", 100001));
    assert_int_equal(n_kills, 0);
    /* a client that stops sending is cut off */
    assert_int_equal(bg_conns_expire(c, 110000), INT64_MAX);
    expect_kills((int[]){10}, 1);
    bg_conns_free(c);
}

static void test_held_connection(void **state)
{
    (void)state;
    struct bg_conns *c = registry(1, 100);

    struct bg_conn *a = open_conn(c, 10, "pid 1", 1000);
    bg_conns_event(c, a, BG_CONN_EV_HEADERS, 1001);
    bg_conns_event(c, a, BG_CONN_EV_HANDLER, 1001);
    bg_conns_hold(c, a);
    bg_conns_event(c, a, BG_CONN_EV_DONE, 2000);
    /* idle, yet neither timed out nor evicted: closing it would delete what it holds */
    assert_int_equal(bg_conns_state(c, 10), BG_CONN_IDLE);
    assert_int_equal(bg_conns_expire(c, 10000000), INT64_MAX);
    assert_false(bg_conns_admit(c, 11, "pid 2", 10000001));
    assert_int_equal(n_kills, 0);
    /* held while already idle: its idle deadline goes */
    struct bg_conns *d = registry(100, 100);
    struct bg_conn *b = open_conn(d, 20, "pid 1", 1000);
    bg_conns_event(d, b, BG_CONN_EV_DONE, 2000);
    bg_conns_hold(d, b);
    assert_int_equal(bg_conns_expire(d, 10000000), INT64_MAX);
    assert_int_equal(n_kills, 0);
    bg_conns_free(d);
    bg_conns_free(c);
}

static void test_unstarted(void **state)
{
    (void)state;
    struct bg_conns *c = registry(1, 100);

    /* evicted before MHD started it: shut down only once it starts */
    assert_true(bg_conns_admit(c, 10, "pid 1", 1000));
    assert_true(bg_conns_admit(c, 11, "pid 1", 1001));
    assert_int_equal(n_kills, 0);
    assert_int_equal(bg_conns_state(c, 10), BG_CONN_CLOSING);
    struct bg_conn *a = bg_conns_started(c, 10, 1002);
    expect_kills((int[]){10}, 1);
    bg_conns_closed(c, a);
    assert_int_equal(bg_conns_state(c, 10), -1);

    /* MHD dropped 11 without starting it and the number came back: the old entry goes */
    assert_true(bg_conns_admit(c, 11, "pid 2", 2000));
    assert_int_equal(bg_conns_count(c, NULL), 1);
    assert_int_equal(bg_conns_count(c, "pid 1"), 0);
    /* one not started by its deadline is killed as it starts, and kept until then: MHD may
     * still count it */
    assert_int_equal(bg_conns_expire(c, 12000), INT64_MAX);
    assert_int_equal(n_kills, 1);
    assert_int_equal(bg_conns_state(c, 11), BG_CONN_CLOSING);
    bg_conns_closed(c, bg_conns_started(c, 11, 12001));
    expect_kills((int[]){10, 11}, 2);

    /* refused by MHD: forgotten at once */
    assert_true(bg_conns_admit(c, 12, "pid 3", 13000));
    bg_conns_forget(c, 12);
    assert_int_equal(bg_conns_state(c, 12), -1);

    /* started without an admission (its entry forgotten meanwhile): a new entry */
    struct bg_conn *b = bg_conns_started(c, 13, 14000);
    assert_non_null(b);
    assert_int_equal(bg_conns_state(c, 13), BG_CONN_RECEIVING);
    assert_int_equal(bg_conns_count(c, "unknown"), 1);
    bg_conns_free(c);
}

/* Entries shut down and not yet closed count against hard_max: past it, no admission. */
static void test_hard_max(void **state)
{
    (void)state;
    struct bg_conns *c = registry(2, 100);
    struct bg_conn *conns[4];

    /* each new one evicts an older one that MHD has not closed yet */
    for (int i = 0; i < 4; i++)
        conns[i] = open_conn(c, 10 + i, "pid 1", 1000 + i);
    expect_kills((int[]){10, 11}, 2);
    assert_int_equal(bg_conns_count(c, NULL), 2);
    assert_false(bg_conns_admit(c, 14, "pid 1", 2000));
    assert_int_equal(n_kills, 2);
    /* MHD closes one of the evicted: room for one more */
    bg_conns_closed(c, conns[0]);
    assert_true(bg_conns_admit(c, 14, "pid 1", 2001));
    expect_kills((int[]){10, 11, 12}, 3);
    bg_conns_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_client_bound_evicts_own_oldest),
        cmocka_unit_test(test_total_bound_evicts_oldest_idle),
        cmocka_unit_test(test_refused_when_all_inside_requests),
        cmocka_unit_test(test_per_client_refused_when_own_all_busy),
        cmocka_unit_test(test_header_deadline),
        cmocka_unit_test(test_body_then_handler_has_no_deadline),
        cmocka_unit_test(test_idle_deadline),
        cmocka_unit_test(test_upgraded_stays),
        cmocka_unit_test(test_streamed_body_deadline),
        cmocka_unit_test(test_held_connection),
        cmocka_unit_test(test_unstarted),
        cmocka_unit_test(test_hard_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
