/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "greet.h"

static int failures;

static void check(const char *what, const char *got, const char *want)
{
    int ok = strcmp(got, want) == 0;
    printf("%s %s: '%s'\n", ok ? "PASS" : "FAIL", what, got);
    failures += !ok;
}

int main(void)
{
    char buf[32];

    greet(buf, sizeof buf, "banger");
    check("a name", buf, "hello, banger!");
    greet(buf, sizeof buf, "");
    check("no name", buf, "hello, world!");
    greet(buf, 8, "banger");
    check("cut to fit", buf, "hello, ");
    printf("%d test(s) failed\n", failures);
    return failures ? 1 : 0;
}
