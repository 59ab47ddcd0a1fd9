/* SPDX-License-Identifier: MIT */
/* Unit tests of the `firecracker --version` parser: a table of accepted and refused outputs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/firecracker/fcversion.h"

/* One row: the output, then either the version it parses to or the error it gives. */
struct row {
    const char *name;
    const char *text;
    int want; /* 0 or -EBADMSG */
    unsigned maj, min, patch;
    const char *pre;      /* want == 0: the prerelease tag */
    const char *fragment; /* want < 0: a fragment of the message */
};

static const struct row accepted[] = {
    {"canonical", "Firecracker v1.16.1\n\n", 0, 1, 16, 1, "", NULL},
    {"no trailing newline", "Firecracker v1.16.1", 0, 1, 16, 1, "", NULL},
    {"CRLF", "Firecracker v1.16.1\r\n\r\n", 0, 1, 16, 1, "", NULL},
    {"prerelease", "Firecracker v1.17.0-dev\n\n", 0, 1, 17, 0, "dev", NULL},
    {"dotted prerelease", "Firecracker v1.17.0-rc.1\n", 0, 1, 17, 0, "rc.1", NULL},
    {"build metadata", "Firecracker v1.16.1+fuzzing\n\n", 0, 1, 16, 1, "", NULL},
    {"prerelease and build", "Firecracker v1.17.0-dev+abc.7\n", 0, 1, 17, 0, "dev", NULL},
    {"trailing log lines",
     "Firecracker v1.16.1\n\n2026-06-29T10:00:00.000000000 [anonymous-instance:main] Running "
     "Firecracker v1.16.1\n2026-06-29T10:00:00.000000001 [anonymous-instance:main] API server "
     "started.\n",
     0, 1, 16, 1, "", NULL},
    {"help text after the version", "Firecracker v1.16.1\n\nFirecracker - ...\n  --api-sock\n", 0,
     1, 16, 1, "", NULL},
    {"largest numbers", "Firecracker v999999.999999.999999\n", 0, 999999, 999999, 999999, "", NULL},
    {"zeros", "Firecracker v0.0.0\n", 0, 0, 0, 0, "", NULL},
};

static const struct row refused[] = {
    {"empty", "", -EBADMSG, 0, 0, 0, NULL, "does not start with 'Firecracker v'"},
    {"garbage", "hello world\n", -EBADMSG, 0, 0, 0, NULL, "does not start with"},
    {"binary junk",
     "\x7f"
     "ELF\x02\x01\x01",
     -EBADMSG, 0, 0, 0, NULL, "does not start"},
    {"jailer", "Jailer v1.16.1\n\n", -EBADMSG, 0, 0, 0, NULL, "does not start with"},
    {"lower case", "firecracker v1.16.1\n", -EBADMSG, 0, 0, 0, NULL, "does not start"},
    {"no v", "Firecracker 1.16.1\n", -EBADMSG, 0, 0, 0, NULL, "does not start with"},
    {"leading space", " Firecracker v1.16.1\n", -EBADMSG, 0, 0, 0, NULL, "does not start"},
    {"log line first", "2026-06-29 [x:main] Running Firecracker v1.16.1\n", -EBADMSG, 0, 0, 0, NULL,
     "does not start with"},
    {"no number", "Firecracker v\n", -EBADMSG, 0, 0, 0, NULL, "no MAJOR.MINOR.PATCH"},
    {"major only", "Firecracker v1\n", -EBADMSG, 0, 0, 0, NULL, "no MAJOR.MINOR.PATCH"},
    {"missing patch", "Firecracker v1.16\n\n", -EBADMSG, 0, 0, 0, NULL, "no MAJOR.MINOR.PATCH"},
    {"missing minor", "Firecracker v1..1\n", -EBADMSG, 0, 0, 0, NULL, "no MAJOR.MINOR.PATCH"},
    {"trailing dot", "Firecracker v1.16.\n", -EBADMSG, 0, 0, 0, NULL, "no MAJOR.MINOR.PATCH"},
    {"leading zero", "Firecracker v1.016.1\n", -EBADMSG, 0, 0, 0, NULL, "no MAJOR.MINOR.PATCH"},
    {"negative", "Firecracker v-1.16.1\n", -EBADMSG, 0, 0, 0, NULL, "no MAJOR.MINOR.PATCH"},
    {"huge minor", "Firecracker v1.1000000.0\n", -EBADMSG, 0, 0, 0, NULL, "no MAJOR.MINOR.PATCH"},
    {"u64 overflow", "Firecracker v18446744073709551616.0.0\n", -EBADMSG, 0, 0, 0, NULL,
     "no MAJOR.MINOR.PATCH"},
    {"empty prerelease", "Firecracker v1.17.0-\n", -EBADMSG, 0, 0, 0, NULL, "no MAJOR.MINOR.PATCH"},
    {"prerelease too long", "Firecracker v1.17.0-0123456789abcdef0123456789abcdef\n", -EBADMSG, 0,
     0, 0, NULL, "no MAJOR.MINOR.PATCH"},
    {"junk after", "Firecracker v1.16.1junk\n", -EBADMSG, 0, 0, 0, NULL, "junk after the version"},
    {"space after", "Firecracker v1.16.1 \n", -EBADMSG, 0, 0, 0, NULL, "junk after the version"},
    {"four numbers", "Firecracker v1.16.1.2\n", -EBADMSG, 0, 0, 0, NULL, "junk after the version"},
    {"prerelease with a bad character", "Firecracker v1.17.0-dev_1\n", -EBADMSG, 0, 0, 0, NULL,
     "junk after the version"},
};

static void test_accepted(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
        const struct row *r = &accepted[i];
        struct bg_fc_version v;
        struct bg_error err = {0};

        memset(&v, 0xa5, sizeof(v));
        int rc = bg_fc_version_parse(r->text, &v, &err);
        if (rc != 0)
            fail_msg("%s: rc %d (%s)", r->name, rc, err.msg);
        if (v.major != r->maj || v.minor != r->min || v.patch != r->patch)
            fail_msg("%s: got %u.%u.%u", r->name, v.major, v.minor, v.patch);
        if (strcmp(v.pre, r->pre))
            fail_msg("%s: pre '%s', want '%s'", r->name, v.pre, r->pre);
        /* err is written only on failure */
        assert_int_equal(err.code, 0);
        assert_string_equal(err.msg, "");
    }
}

static void test_refused(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        const struct row *r = &refused[i];
        struct bg_fc_version v = {.major = 77, .pre = "keep"};
        struct bg_error err = {0};

        int rc = bg_fc_version_parse(r->text, &v, &err);
        if (rc != r->want || err.code != r->want)
            fail_msg("%s: rc %d code %d, want %d", r->name, rc, err.code, r->want);
        if (!strstr(err.msg, r->fragment))
            fail_msg("%s: message '%s' lacks '%s'", r->name, err.msg, r->fragment);
        /* outputs are written only on success */
        if (v.major != 77 || strcmp(v.pre, "keep"))
            fail_msg("%s: *ret was written on failure", r->name);
    }
}

static void test_refused_without_err(void **state)
{
    struct bg_fc_version v;

    (void)state;
    assert_int_equal(bg_fc_version_parse("nope", &v, NULL), -EBADMSG);
}

static void test_format(void **state)
{
    struct bg_fc_version v = {.major = 1, .minor = 16, .patch = 1};
    char buf[64];

    (void)state;
    bg_fc_version_format(&v, buf, sizeof(buf));
    assert_string_equal(buf, "1.16.1");
    strcpy(v.pre, "dev");
    v.minor = 17;
    v.patch = 0;
    bg_fc_version_format(&v, buf, sizeof(buf));
    assert_string_equal(buf, "1.17.0-dev");
    /* truncates, never overflows */
    bg_fc_version_format(&v, buf, 4);
    assert_string_equal(buf, "1.1");
}

static void test_format_round_trip(void **state)
{
    struct bg_fc_version v, w;
    char buf[64], text[96];

    (void)state;
    assert_int_equal(bg_fc_version_parse("Firecracker v1.17.0-rc.2+x\n", &v, NULL), 0);
    bg_fc_version_format(&v, buf, sizeof(buf));
    assert_string_equal(buf, "1.17.0-rc.2");
    snprintf(text, sizeof(text), "Firecracker v%s\n", buf);
    assert_int_equal(bg_fc_version_parse(text, &w, NULL), 0);
    assert_memory_equal(&v, &w, sizeof(v));
}

static void test_supported(void **state)
{
    static const struct {
        unsigned maj, min;
        bool want;
    } rows[] = {
        {1, BG_FC_MIN_MINOR, true},
        {1, 16, true},
        {1, 17, true},
        {1, BG_FC_MIN_MINOR - 1, false},
        {0, 16, false},
        {2, 0, false},
        {2, 16, false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct bg_fc_version v = {.major = rows[i].maj, .minor = rows[i].min};
        if (bg_fc_version_supported(&v) != rows[i].want)
            fail_msg("%u.%u: supported %d", rows[i].maj, rows[i].min, !rows[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_refused_without_err),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_round_trip),
        cmocka_unit_test(test_supported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
