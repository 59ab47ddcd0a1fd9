/* SPDX-License-Identifier: MIT */
/* Unit tests for api/src/utf8.c: the decoder's table of good and bad sequences, cutting on a
 * character boundary, the lossy encoder, in-place repair, clipping and formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "banger/utf8.h"

static const struct {
    const char *bytes;
    size_t len;
    size_t seq; /* what bg_utf8_seq says of the first sequence */
} seqs[] = {
    {"a", 1, 1},
    {"", 1, 1}, /* NUL is a character */
    {"\xc3\xa9", 2, 2},
    {"\xe2\x82\xac", 3, 3},
    {"\xf0\x9f\x98\x80", 4, 4},
    {"\xf4\x8f\xbf\xbf", 4, 4}, /* U+10FFFF */
    {"\x80", 1, 0},             /* stray continuation */
    {"\xc0\xaf", 2, 0},         /* overlong '/' */
    {"\xc1\xbf", 2, 0},         /* overlong */
    {"\xe0\x80\xaf", 3, 0},     /* overlong three-byte */
    {"\xf0\x80\x80\xaf", 4, 0}, /* overlong four-byte */
    {"\xed\xa0\x80", 3, 0},     /* surrogate U+D800 */
    {"\xf4\x90\x80\x80", 4, 0}, /* past U+10FFFF */
    {"\xf5\x80\x80\x80", 4, 0}, /* lead byte never used */
    {"\xff", 1, 0},
    {"\xc3", 1, 0},         /* cut short */
    {"\xe2\x82", 2, 0},     /* cut short */
    {"\xc3\x28", 2, 0},     /* continuation missing */
    {"\xe2\x28\xa1", 3, 0}, /* continuation missing */
};

static void test_seq_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
        size_t got = bg_utf8_seq(seqs[i].bytes, seqs[i].len);
        if (got != seqs[i].seq)
            fail_msg("case %zu: seq %zu, want %zu", i, got, seqs[i].seq);
        assert_int_equal(bg_utf8_valid(seqs[i].bytes, seqs[i].len), seqs[i].seq == seqs[i].len);
    }
}

static void test_printable(void **state)
{
    (void)state;
    assert_true(bg_utf8_printable("caf\xc3\xa9 /v1/vms"));
    assert_false(bg_utf8_printable("a\nb"));
    assert_false(bg_utf8_printable("a\x7f"));
    assert_false(bg_utf8_printable("a\xff"));
    assert_true(bg_utf8_printable(""));
}

static void test_cut(void **state)
{
    const char *s = "a\xc3\xa9\xe2\x82\xac"; /* a, e-acute, euro: 1 + 2 + 3 bytes */

    (void)state;
    assert_int_equal(bg_utf8_cut(s, 6, 6), 6);
    assert_int_equal(bg_utf8_cut(s, 6, 5), 3);
    assert_int_equal(bg_utf8_cut(s, 6, 2), 1);
    assert_int_equal(bg_utf8_cut(s, 6, 100), 6);
    assert_int_equal(bg_utf8_cut(s, 6, 0), 0);
    /* a lead byte whose continuation the end cut off is dropped */
    assert_int_equal(bg_utf8_cut(s, 5, 5), 3);
    /* invalid bytes count one each, and are kept for the caller to repair */
    assert_int_equal(bg_utf8_cut("a\xff\xffz", 4, 3), 3);
}

static void test_lossy(void **state)
{
    size_t len;
    char *out;

    (void)state;
    out = bg_utf8_lossy("ok\xff\xc3\xa9\xc3", 6, &len);
    assert_int_equal(len, 2 + 3 + 2 + 3);
    assert_memory_equal(out, "ok\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd", len);
    free(out);
    out = bg_utf8_lossy("a\0b", 3, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(out, "a\0b", 3);
    free(out);
    out = bg_utf8_lossy("", 0, NULL);
    assert_string_equal(out, "");
    free(out);
}

static void test_fix_and_clip(void **state)
{
    char s[] = "a\xff\xe2\x82\xac\xe2\x82";
    char buf[8];

    (void)state;
    bg_utf8_fix(s);
    assert_string_equal(s, "a?\xe2\x82\xac??");
    assert_string_equal(bg_utf8_clip(buf, sizeof(buf), "short"), "short");
    /* 7 bytes fit: the cut lands before the euro sign, then "..." */
    assert_string_equal(bg_utf8_clip(buf, sizeof(buf), "ab\xe2\x82\xac\xe2\x82\xac"), "ab...");
    assert_string_equal(bg_utf8_clip(buf, sizeof(buf), "x\xffy"), "x?y");
}

static void test_format(void **state)
{
    char buf[6];

    (void)state;
    assert_int_equal(bg_utf8_format(buf, sizeof(buf), "%s", "ab\xe2\x82\xac"), 5);
    assert_string_equal(buf, "ab\xe2\x82\xac");
    assert_int_equal(bg_utf8_format(buf, sizeof(buf), "%s!", "ab\xe2\x82\xac"), 5);
    assert_int_equal(bg_utf8_format(buf, sizeof(buf), "%sxx", "abc\xe2\x82\xac"), 3);
    assert_string_equal(buf, "abc");
    assert_int_equal(bg_utf8_format(buf, sizeof(buf), "%s", "\xff"), 1);
    assert_string_equal(buf, "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seq_table),    cmocka_unit_test(test_printable),
        cmocka_unit_test(test_cut),          cmocka_unit_test(test_lossy),
        cmocka_unit_test(test_fix_and_clip), cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
