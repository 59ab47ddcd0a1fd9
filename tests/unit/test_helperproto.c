/* SPDX-License-Identifier: MIT */
/* Unit tests for api/src/helperproto.c and api/src/install.c: the malformed-input tables of the
 * helper's request codec (types and caps; what the values mean is helper/validate.c's, tested in
 * test_helperd and over the socket in integration/test_helper), its replies, and install.toml. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "banger/alloc.h"
#include "banger/helperproto.h"
#include "banger/install.h"
#include "banger/utf8.h"
#include "testutil.h"

static int decode(const char *msg, struct bg_helper_request *ret, struct bg_error *err)
{
    return bg_helper_request_decode(msg, strlen(msg), ret, err);
}

static void test_requests_accepted(void **state)
{
    static const char *const good[] = {
        "{\"op\":\"hello\"}",
        "{\"op\":\"bridge_ensure\"}",
        "{\"op\":\"tap_create\",\"vm\":\"web1\"}",
        "{\"op\":\"tap_delete\",\"vm\":\"web1\"}",
        "{\"op\":\"nat_apply\",\"guests\":[]}",
        "{\"op\":\"nat_apply\",\"guests\":[{\"vm\":\"a\",\"address\":\"10.77.0.2\",\"nat\":true}]}",
        "{\"op\":\"vmm_signal\",\"pid\":42,\"start_time\":9,\"signal\":\"TERM\"}",
        "{\"op\":\"vmm_kill\",\"pid\":42,\"start_time\":9}",
        "{\"op\":\"reconcile\",\"vms\":[\"a\",\"b\"]}",
        "{\"op\":\"teardown\"}",
    };
    struct bg_helper_request r;
    struct bg_error err = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (decode(good[i], &r, &err) != 0)
            fail_msg("case %zu refused: %s", i, err.msg);
        /* what decodes encodes, and decodes to the same operation again */
        char *text = NULL;
        size_t len = 0;
        struct bg_helper_request again;
        assert_int_equal(bg_helper_request_encode(&r, &text, &len, &err), 0);
        assert_int_equal(bg_helper_request_decode(text, len, &again, &err), 0);
        assert_int_equal(again.op, r.op);
        bg_helper_request_done(&again);
        free(text);
        bg_helper_request_done(&r);
    }
}

static void test_requests_refused(void **state)
{
    static const struct {
        const char *msg;
        const char *fragment;
    } bad[] = {
        {"", "JSON"},
        {"not json", "JSON"},
        {"[]", "object"},
        {"{}", "op"},
        {"{\"op\":1}", "op"},
        {"{\"op\":\"format_disk\"}", "op"},
        {"{\"op\":\"hello\",\"extra\":1}", "extra"},
        {"{\"op\":\"tap_create\"}", "vm"},
        {"{\"op\":\"tap_create\",\"vm\":\"a\\u0000b\"}", "is not allowed"},
        {"{\"op\":\"tap_create\",\"vm\":7}", "vm"},
        {"{\"op\":\"tap_create\",\"vm\":\"a\",\"tap\":\"eth0\"}", "tap"},
        {"{\"op\":\"vmm_signal\",\"pid\":42,\"start_time\":9}", "signal"},
        {"{\"op\":\"vmm_signal\",\"pid\":-1,\"start_time\":9,\"signal\":\"TERM\"}", "pid"},
        {"{\"op\":\"vmm_signal\",\"pid\":4294967296,\"start_time\":9,\"signal\":\"TERM\"}", "pid"},
        {"{\"op\":\"vmm_signal\",\"pid\":\"42\",\"start_time\":9,\"signal\":\"TERM\"}", "pid"},
        {"{\"op\":\"vmm_kill\",\"pid\":42}", "start_time"},
        {"{\"op\":\"vmm_launch\",\"vm\":\"a\"}", "vmm"},
        {"{\"op\":\"vmm_launch\",\"vm\":\"a\",\"vmm\":\"firecracker\",\"argv\":[\"sh\"]}", "argv"},
        {"{\"op\":\"nat_apply\"}", "guests"},
        {"{\"op\":\"nat_apply\",\"guests\":{}}", "guests"},
        {"{\"op\":\"nat_apply\",\"guests\":[{\"vm\":\"a\",\"address\":\"10.77.0.2\"}]}", "nat"},
        {"{\"op\":\"nat_apply\",\"guests\":[{\"vm\":\"a\",\"address\":\"x\",\"nat\":1}]}", "nat"},
        {"{\"op\":\"reconcile\",\"vms\":[1]}", "vms"},
        {"{\"op\":\"hello\",\"op\":\"teardown\"}", "JSON"},
    };
    struct bg_helper_request r;
    struct bg_error err = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = decode(bad[i].msg, &r, &err);
        if (rc != -EINVAL || !strstr(err.msg, bad[i].fragment))
            fail_msg("case %zu (%s): %d '%s', want -EINVAL with '%s'", i, bad[i].msg, rc, err.msg,
                     bad[i].fragment);
        /* every refusal is text that can be logged and sent back */
        assert_true(bg_utf8_valid(err.msg, strlen(err.msg)));
    }
}

static void test_request_size_cap(void **state)
{
    struct bg_helper_request r;
    struct bg_error err = {0};
    size_t n = BG_HELPER_MSG_MAX + 1;
    char *big = bg_malloc(n);

    (void)state;
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    assert_err(bg_helper_request_decode(big, n, &r, &err), err, -EMSGSIZE, "");
    free(big);
}

static void test_reply_refused(void **state)
{
    static const char *const bad[] = {
        "", "{}", "{\"ok\":true,\"bridge\":7}", "{\"ok\":false}", "{\"ok\":true,\"x\":1}",
    };
    struct bg_helper_reply r;
    struct bg_error err = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc =
            bg_helper_reply_decode(BG_HELPER_OP_BRIDGE_ENSURE, bad[i], strlen(bad[i]), &r, &err);
        if (rc != -EINVAL)
            fail_msg("reply case %zu (%s) accepted", i, bad[i]);
    }
    /* a well-formed failure decodes as one */
    struct bg_helper_reply fail = {.code = -EPERM};
    snprintf(fail.message, sizeof(fail.message), "not the owner");
    char *text = NULL;
    size_t len = 0;
    bg_helper_reply_encode(BG_HELPER_OP_TAP_CREATE, &fail, &text, &len);
    assert_int_equal(bg_helper_reply_decode(BG_HELPER_OP_TAP_CREATE, text, len, &r, &err), 0);
    assert_int_equal(r.code, -EPERM);
    assert_string_equal(r.message, "not the owner");
    free(text);
}

static void test_tap_name(void **state)
{
    char a[BG_HELPER_TAP_LEN + 1], b[BG_HELPER_TAP_LEN + 1];

    (void)state;
    bg_helper_tap_name("web1", a, sizeof(a));
    bg_helper_tap_name("web2", b, sizeof(b));
    assert_int_equal(strlen(a), BG_HELPER_TAP_LEN);
    assert_int_equal(strncmp(a, BG_HELPER_TAP_PREFIX, 3), 0);
    assert_string_not_equal(a, b);
    bg_helper_tap_name("web1", b, sizeof(b));
    assert_string_equal(a, b);
}

/* ---- install.toml ---- */

static int load_text(const char *text, struct bg_install *ret, struct bg_error *err)
{
    bg_autofree char *path = bg_asprintf("%s/install.toml", bg_test_dir());
    free(bg_test_write_file(path, text, strlen(text)));
    return bg_install_load(path, ret, err);
}

static void test_install_accepted(void **state)
{
    struct bg_install in;
    struct bg_error err = {0};

    (void)state;
    assert_int_equal(load_text("owner_uid = 1000\n", &in, &err), 0);
    assert_int_equal(in.owner_uid, 1000);
    assert_int_equal(in.owner_gid, 1000);
    assert_string_equal(in.bridge, "bgbr0");
    char cidr[32];
    bg_install_cidr(in.subnet, in.prefix, cidr, sizeof(cidr));
    assert_string_equal(cidr, "10.77.0.0/24");
    bg_install_done(&in);
    assert_int_equal(load_text("# system install\nowner_uid = 1001\nowner_gid = 50\n"
                               "bridge = \"bgbr1\"\nsubnet = \"192.168.77.0/24\"\n"
                               "dns_port = 5353\nfirecracker = \"/usr/bin/firecracker\"\n",
                               &in, &err),
                     0);
    assert_int_equal(in.owner_gid, 50);
    assert_string_equal(in.bridge, "bgbr1");
    assert_int_equal(in.dns_port, 5353);
    assert_string_equal(in.firecracker, "/usr/bin/firecracker");
    bg_install_done(&in);
}

static void test_install_refused(void **state)
{
    static const struct {
        const char *text;
        const char *fragment;
    } bad[] = {
        {"", "owner_uid"},
        {"owner_uid = 0\n", "owner_uid"},
        {"owner_uid = \"1000\"\n", "expected an integer"},
        {"owner_uid = 1000\nowner_uid = 1001\n", ":2:"},
        {"owner_uid = 1000\nbridge = \"eth0\"\n", "bridge"},
        {"owner_uid = 1000\nbridge = \"bg;rm\"\n", "bridge"},
        {"owner_uid = 1000\nbridge = \"bgtest\"\n", "starts like banger's taps"},
        {"owner_uid = 1000\nsubnet = \"8.8.8.0/24\"\n", "subnet"},
        {"owner_uid = 1000\nsubnet = \"10.77.0.0/8\"\n", "subnet"},
        {"owner_uid = 1000\nsubnet = \"10.77.0.0\"\n", "subnet"},
        {"owner_uid = 1000\nfirecracker = \"firecracker\"\n", "firecracker"},
        {"owner_uid = 1000\nstate_dir = \"/a/../b\"\n", "state_dir"},
        {"owner_uid = 1000\nunknown = 1\n", "unknown"},
        {"owner_uid = 1000\n[section]\n", "section"},
        {"owner_uid = 1000\ndns_port = 70000\n", "dns_port"},
    };
    struct bg_install in;
    struct bg_error err = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = load_text(bad[i].text, &in, &err);
        if (rc >= 0 || !strstr(err.msg, bad[i].fragment))
            fail_msg("case %zu: %d '%s', want a refusal with '%s'", i, rc, err.msg,
                     bad[i].fragment);
        assert_true(strstr(err.msg, "install.toml") != NULL);
        bg_install_done(&in);
    }
    assert_err(bg_install_load("/nonexistent/install.toml", &in, &err), err, -ENOENT, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests_accepted), cmocka_unit_test(test_requests_refused),
        cmocka_unit_test(test_request_size_cap),  cmocka_unit_test(test_reply_refused),
        cmocka_unit_test(test_tap_name),          cmocka_unit_test(test_install_accepted),
        cmocka_unit_test(test_install_refused),
    };
    return cmocka_run_group_tests(tests, bg_test_dir_setup, bg_test_dir_teardown);
}
