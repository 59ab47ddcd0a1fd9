/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for bangerd's config file: arbitrary bytes as the file named by --config.
 * Invariants: a refusal names a message that is valid UTF-8 (it is printed and logged), and
 * an accepted configuration always encodes as the JSON of GET /v1/system/info. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banger/utf8.h"
#include "core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static char path_buf[64];

static void remove_config(void)
{
    (void)unlink(path_buf);
}

/* One file, rewritten for each input and removed at exit. */
static const char *config_path(void)
{
    if (!path_buf[0]) {
        snprintf(path_buf, sizeof(path_buf), "/tmp/banger-fuzz-config.%d", (int)getpid());
        (void)atexit(remove_config);
    }
    return path_buf;
}

static void write_input(const char *path, const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    CHECK(fd >= 0);
    CHECK(write(fd, data, size) == (ssize_t)size);
    (void)close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = config_path();
    char *argv[] = {(char *)"bangerd", (char *)"--config", (char *)path, NULL};
    char *const envp[] = {(char *)"HOME=/home/fuzz", NULL};
    struct bg_config_env env = {.envp = envp, .uid = 1000};
    struct bg_config_args args;
    struct bg_config cfg;
    struct bg_error err = {0};

    write_input(path, data, size);
    CHECK(bg_config_args_parse(3, argv, &args, &err) == 0);
    int r = bg_config_load(&cfg, &args, &env, &err);
    if (r < 0) {
        CHECK(err.code == r);
        CHECK(err.msg[0] != '\0');
        CHECK(bg_utf8_valid(err.msg, strlen(err.msg)));
        return 0;
    }
    json_t *j = bg_config_to_json(&cfg);
    char *text = json_dumps(j, JSON_COMPACT);
    CHECK(text != NULL);
    free(text);
    json_decref(j);
    bg_config_done(&cfg);
    return 0;
}
