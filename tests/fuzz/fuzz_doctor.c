/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for what banger doctor parses: the input is /etc/os-release (through
 * bg_os_release_parse) and, through the whole report, what every program answers (the
 * Firecracker, jailer and QEMU versions, nft's ruleset JSON) and the host's small files. The
 * ids kept are of os-release's alphabet; every row encodes as JSON (valid UTF-8); every FAIL
 * says what to do. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "banger/alloc.h"
#include "banger/utf8.h"
#include "doctor/doctor.h"
#include "doctor/osrelease.h"
#include "host/fileio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const char *text;                               /* this input, NUL-terminated */
static char root[] = "/tmp/banger-fuzz-doctor.XXXXXX"; /* the host tree, made once */

static void root_remove(void)
{
    struct bg_error err;
    (void)bg_rm_tree(root, &err);
}

static int answer(void *cls, const char *const *argv, char **ret_out)
{
    (void)cls;
    (void)argv;
    *ret_out = bg_strdup(text);
    return 0;
}

static void check_id(const char *s, size_t max, bool words)
{
    size_t n = strnlen(s, max);
    CHECK(n < max);
    for (size_t i = 0; i < n; i++)
        CHECK((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
              s[i] == '_' || s[i] == '-' || (words && s[i] == ' '));
}

static void check_text(const char *s)
{
    CHECK(bg_utf8_valid(s, strlen(s)));
    json_t *j = json_string(s);
    CHECK(j != NULL);
    json_decref(j);
}

/* The host tree: the input is each of its small files. */
static void tree(const char *dir_root, const char *input, size_t size)
{
    static const char *const files[] = {"/etc/os-release", "/proc/sys/net/ipv4/ip_forward",
                                        "/sys/fs/cgroup/cgroup.controllers"};
    struct bg_error err;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char p[512];
        snprintf(p, sizeof(p), "%s%s", dir_root, files[i]);
        char *dir = bg_strdup(p);
        *strrchr(dir, '/') = '\0';
        CHECK(bg_mkdir_p(dir, 0755, &err) == 0);
        free(dir);
        FILE *f = fopen(p, "we");
        CHECK(f != NULL);
        CHECK(fwrite(input, 1, size, f) == size);
        CHECK(fclose(f) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool made;
    struct bg_os_release os;
    char *s = bg_malloc(size + 1);

    memcpy(s, data, size);
    s[size] = '\0';
    text = s;
    CHECK(bg_os_release_parse(s, &os) == 0);
    check_id(os.id, sizeof(os.id), false);
    check_id(os.id_like, sizeof(os.id_like), true);
    enum bg_os_family f = bg_os_release_family(&os);
    CHECK(bg_os_install_hint(f, BG_OS_PROGRAM_FIRECRACKER)[0] != '\0');

    if (!made) {
        CHECK(mkdtemp(root) != NULL);
        CHECK(atexit(root_remove) == 0);
        made = true;
    }
    tree(root, (const char *)data, size);
    struct bg_config cfg = {.mode = BG_CONFIG_MODE_SYSTEM, .state_dir = (char *)"/state"};
    char src[] = "default";
    for (int k = 0; k < BG_CONFIG_KEY_COUNT; k++)
        cfg.source[k] = src;
    snprintf(cfg.vmm, sizeof(cfg.vmm), "auto");
    snprintf(cfg.accel, sizeof(cfg.accel), "auto");
    snprintf(cfg.vm_default_image, sizeof(cfg.vm_default_image), "default");
    struct bg_doctor_env env = {.root = root, .run = answer, .cfg = &cfg};
    struct bg_doctor_report *r = bg_malloc(sizeof(*r));
    bg_doctor_run(&env, r);
    for (size_t i = 0; i < r->n; i++) {
        check_text(r->check[i].name);
        check_text(r->check[i].detail);
        check_text(r->check[i].fix);
        CHECK(r->check[i].status != BG_DOCTOR_FAIL || r->check[i].fix[0]);
    }
    json_decref(bg_doctor_to_json(r));
    free(r);
    free(s);
    return 0;
}
