/* SPDX-License-Identifier: MIT */
/* Unit tests for api/src/agentproto.c: the agent frame header codec and its refusals. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "banger/agentproto.h"

static void test_round_trip(void **state)
{
    (void)state;
    const struct bg_agent_header good[] = {
        {BG_AGENT_HELLO, 0, 0, 57},
        {BG_AGENT_POWEROFF, 0, 0, 0},
        {BG_AGENT_POWEROFF, BG_AGENT_F_REBOOT, 0, 0},
        {BG_AGENT_EXEC, 0, 1, 100},
        {BG_AGENT_STARTED, 0, 7, 11},
        {BG_AGENT_DATA, BG_AGENT_F_STDIN, 1, 0},
        {BG_AGENT_DATA, BG_AGENT_F_STDOUT, BG_AGENT_CHANNEL_MAX, BG_AGENT_PAYLOAD_MAX},
        {BG_AGENT_DATA, BG_AGENT_F_STDERR, 2, 1},
        {BG_AGENT_EOF, BG_AGENT_F_STDOUT, 3, 0},
        {BG_AGENT_CREDIT, BG_AGENT_F_STDIN, 3, 4},
        {BG_AGENT_RESIZE, 0, 3, 4},
        {BG_AGENT_SIGNAL, 0, 3, 4},
        {BG_AGENT_EXIT, 0, 3, 15},
        {BG_AGENT_ERROR, 0, 3, 40},
        {BG_AGENT_CLOSE, 0, 3, 0},
    };

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        uint8_t buf[BG_AGENT_HEADER_SIZE];
        struct bg_agent_header back;
        struct bg_error err = {.code = 1, .msg = "untouched"};
        bg_agent_header_encode(&good[i], buf);
        if (bg_agent_header_decode(buf, &back, &err) != 0)
            fail_msg("case %zu (%s): %s", i, bg_agent_type_name(good[i].type), err.msg);
        assert_int_equal(back.type, good[i].type);
        assert_int_equal(back.flags, good[i].flags);
        assert_int_equal(back.channel, good[i].channel);
        assert_int_equal(back.length, good[i].length);
        assert_string_equal(err.msg, "untouched");
    }
}

static void test_wire_layout(void **state)
{
    (void)state;
    const struct bg_agent_header h = {BG_AGENT_DATA, BG_AGENT_F_STDERR, 0x01020304, 0x0000a0b0};
    const uint8_t want[BG_AGENT_HEADER_SIZE] = {5, 4, 0, 0, 4, 3, 2, 1, 0xb0, 0xa0, 0, 0};
    uint8_t buf[BG_AGENT_HEADER_SIZE];

    memset(buf, 0xff, sizeof(buf));
    bg_agent_header_encode(&h, buf);
    assert_memory_equal(buf, want, sizeof(want));
}

struct bad_case {
    uint8_t bytes[BG_AGENT_HEADER_SIZE];
    int code;
    const char *fragment;
};

#define LE32(v) (uint8_t)(v), (uint8_t)((v) >> 8), (uint8_t)((v) >> 16), (uint8_t)((v) >> 24)

static void test_malformed(void **state)
{
    (void)state;
    const struct bad_case bad[] = {
        {{0, 0, 0, 0, LE32(0), LE32(0)}, -EBADMSG, "unknown frame type 0"},
        {{BG_AGENT_TYPE_MAX_ + 1, 0, 0, 0, LE32(1), LE32(0)}, -EBADMSG, "unknown frame type"},
        {{255, 0, 0, 0, LE32(1), LE32(0)}, -EBADMSG, "unknown frame type 255"},
        {{BG_AGENT_HELLO, 0, 1, 0, LE32(0), LE32(2)}, -EBADMSG, "reserved bytes"},
        {{BG_AGENT_DATA, 2, 0, 1, LE32(1), LE32(2)}, -EBADMSG, "reserved bytes"},
        {{BG_AGENT_HELLO, 1, 0, 0, LE32(0), LE32(2)}, -EBADMSG, "flags 0x01 not allowed"},
        {{BG_AGENT_POWEROFF, 0x10, 0, 0, LE32(0), LE32(0)}, -EBADMSG, "not allowed"},
        {{BG_AGENT_DATA, BG_AGENT_F_REBOOT, 0, 0, LE32(1), LE32(2)}, -EBADMSG, "not allowed"},
        {{BG_AGENT_EXEC, 0x80, 0, 0, LE32(1), LE32(2)}, -EBADMSG, "flags 0x80"},
        {{BG_AGENT_HELLO, 0, 0, 0, LE32(1), LE32(2)}, -EBADMSG, "belongs on channel 0"},
        {{BG_AGENT_POWEROFF, 0, 0, 0, LE32(9), LE32(0)}, -EBADMSG, "belongs on channel 0"},
        {{BG_AGENT_EXEC, 0, 0, 0, LE32(0), LE32(2)}, -EBADMSG, "channel 0 is for control"},
        {{BG_AGENT_DATA, 2, 0, 0, LE32(0), LE32(2)}, -EBADMSG, "channel 0 is for control"},
        {{BG_AGENT_EXEC, 0, 0, 0, LE32(0x10000), LE32(2)}, -EBADMSG, "is over 65535"},
        {{BG_AGENT_DATA, 2, 0, 0, LE32(1), LE32(BG_AGENT_PAYLOAD_MAX + 1)},
         -EMSGSIZE,
         "payload of 65537 bytes"},
        {{BG_AGENT_EXEC, 0, 0, 0, LE32(1), LE32(0xffffffffu)}, -EMSGSIZE, "is over 65536"},
        {{BG_AGENT_CREDIT, 2, 0, 0, LE32(1), LE32(3)}, -EBADMSG, "must be 4 bytes, not 3"},
        {{BG_AGENT_RESIZE, 0, 0, 0, LE32(1), LE32(8)}, -EBADMSG, "must be 4 bytes"},
        {{BG_AGENT_SIGNAL, 0, 0, 0, LE32(1), LE32(0)}, -EBADMSG, "must be 4 bytes"},
        {{BG_AGENT_EOF, 1, 0, 0, LE32(1), LE32(1)}, -EBADMSG, "must be 0 bytes"},
        {{BG_AGENT_POWEROFF, 0, 0, 0, LE32(0), LE32(4)}, -EBADMSG, "must be 0 bytes"},
        {{BG_AGENT_CLOSE, 0, 0, 0, LE32(1), LE32(1)}, -EBADMSG, "must be 0 bytes"},
        {{BG_AGENT_DATA, 0, 0, 0, LE32(1), LE32(1)}, -EBADMSG, "exactly one stream"},
        {{BG_AGENT_DATA, 3, 0, 0, LE32(1), LE32(1)}, -EBADMSG, "exactly one stream"},
        {{BG_AGENT_EOF, 6, 0, 0, LE32(1), LE32(0)}, -EBADMSG, "exactly one stream"},
        {{BG_AGENT_CREDIT, 7, 0, 0, LE32(1), LE32(4)}, -EBADMSG, "exactly one stream"},
        {{BG_AGENT_CREDIT, 0, 0, 0, LE32(1), LE32(4)}, -EBADMSG, "exactly one stream"},
        {{BG_AGENT_RESIZE, 1, 0, 0, LE32(1), LE32(4)}, -EBADMSG, "not allowed"},
        {{BG_AGENT_CONNECT, 0, 0, 0, LE32(0), LE32(2)}, -EBADMSG, "CONNECT frame on channel 0"},
        {{BG_AGENT_CONNECT, 1, 0, 0, LE32(1), LE32(2)}, -EBADMSG, "CONNECT frame: flags 0x01"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct bg_agent_header h = {.type = 99};
        struct bg_error err = {0};
        int r = bg_agent_header_decode(bad[i].bytes, &h, &err);
        if (r != bad[i].code)
            fail_msg("case %zu: returned %d, want %d (%s)", i, r, bad[i].code, err.msg);
        assert_int_equal(err.code, r);
        if (!strstr(err.msg, bad[i].fragment))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, bad[i].fragment);
        assert_int_equal(h.type, 99); /* outputs only on success */
    }
}

static void test_null_err(void **state)
{
    (void)state;
    const uint8_t buf[BG_AGENT_HEADER_SIZE] = {42};
    struct bg_agent_header h;

    assert_int_equal(bg_agent_header_decode(buf, &h, NULL), -EBADMSG);
}

static void test_int_helpers(void **state)
{
    (void)state;
    uint8_t b[4];

    bg_agent_put_u32(b, 0xdeadbeef);
    assert_int_equal(b[0], 0xef);
    assert_int_equal(b[3], 0xde);
    assert_int_equal(bg_agent_get_u32(b), 0xdeadbeef);
    bg_agent_put_u32(b, 0);
    assert_int_equal(bg_agent_get_u32(b), 0);
    bg_agent_put_u32(b, UINT32_MAX);
    assert_int_equal(bg_agent_get_u32(b), UINT32_MAX);
    bg_agent_put_u16(b, 0xbeef);
    assert_int_equal(b[0], 0xef);
    assert_int_equal(b[1], 0xbe);
    assert_int_equal(bg_agent_get_u16(b), 0xbeef);
    bg_agent_put_u16(b, UINT16_MAX);
    assert_int_equal(bg_agent_get_u16(b), UINT16_MAX);
}

static void test_type_names(void **state)
{
    (void)state;
    assert_string_equal(bg_agent_type_name(BG_AGENT_HELLO), "HELLO");
    assert_string_equal(bg_agent_type_name(BG_AGENT_CLOSE), "CLOSE");
    assert_string_equal(bg_agent_type_name(BG_AGENT_CREDIT), "CREDIT");
    assert_string_equal(bg_agent_type_name(BG_AGENT_CONNECT), "CONNECT");
    assert_string_equal(bg_agent_type_name(0), "?");
    assert_string_equal(bg_agent_type_name(BG_AGENT_TYPE_MAX_ + 1), "?");
    assert_string_equal(bg_agent_type_name(255), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),  cmocka_unit_test(test_wire_layout),
        cmocka_unit_test(test_malformed),   cmocka_unit_test(test_null_err),
        cmocka_unit_test(test_int_helpers), cmocka_unit_test(test_type_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
