/* SPDX-License-Identifier: MIT */
#include "greet.h"

#include <stdio.h>

int greet(char *buf, size_t size, const char *name)
{
    return snprintf(buf, size, "hello, %s!", name && *name ? name : "world");
}
