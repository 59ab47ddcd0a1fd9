/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for what the CLI reads of the user's ssh files and of bangerd's tunnel
 * answer: the input as an ~/.ssh/config (banger's Include added is found again, added once,
 * and taken out again to what uninstall alone leaves), as a known_hosts (a VM's keys set
 * twice is what setting them once gives), and as a host-keys header (every key it yields
 * passes the strict check; every refusal's message is well-formed UTF-8). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banger/alloc.h"
#include "banger/sshkey.h"
#include "banger/utf8.h"
#include "sshconfig.h"
#include "sshkeys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* assert() is compiled out in release builds; these invariants must hold in every build. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define PATH "/home/me/.config/banger/ssh/config"
#define KEY "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBYxC0YO5+XzMXWqzjbc20S3LfygbZDupu18tFW6duk"

static void fuzz_config(const char *text, size_t len)
{
    char *added = NULL, *again = NULL, *removed = NULL, *back = NULL;
    int r = bg_cli_sshconfig_add(text, len, PATH, &added);

    CHECK(r == 0 || r == 1);
    CHECK((r == 1) == (added != NULL));
    if (bg_cli_sshconfig_remove(text, len, PATH, &removed) == 0)
        removed = bg_strndup(text, len);
    if (added) {
        CHECK(bg_cli_sshconfig_add(added, strlen(added), PATH, &again) == 0 && !again);
        CHECK(bg_cli_sshconfig_remove(added, strlen(added), PATH, &back) == 1);
        CHECK(!strcmp(back, removed));
    }
    free(added);
    free(removed);
    free(back);
}

static void fuzz_known_hosts(const char *text, size_t len)
{
    char key[] = KEY;
    char *const keys[] = {key, NULL};
    char *once = bg_cli_known_hosts_set(text, len, "web.vm", keys);
    char *twice = bg_cli_known_hosts_set(once, strlen(once), "web.vm", keys);

    CHECK(!strcmp(once, twice));
    CHECK(strlen(once) >= strlen("web.vm " KEY "\n"));
    CHECK(!strcmp(once + strlen(once) - strlen("web.vm " KEY "\n"), "web.vm " KEY "\n"));
    free(once);
    free(twice);
}

static void fuzz_header(const char *text)
{
    struct bg_error err;
    char **keys = NULL;
    int r = bg_cli_ssh_host_keys_parse(text, &keys, &err);

    if (r < 0) {
        CHECK(r == -EPROTO && err.code == r && !keys);
        CHECK(bg_utf8_valid(err.msg, strlen(err.msg)));
        return;
    }
    CHECK(keys[0] != NULL);
    for (size_t i = 0; keys[i]; i++)
        CHECK(bg_sshkey_validate(keys[i], strlen(keys[i]), NULL) == 0);
    bg_strv_free(keys);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the files are text read whole; a NUL ends the header, as it would a C string */
    char *text = bg_strndup((const char *)data, size);
    size_t len = strlen(text);

    fuzz_config(text, len);
    fuzz_known_hosts(text, len);
    fuzz_header(text);
    free(text);
    return 0;
}
