/* SPDX-License-Identifier: MIT */
/* The daemon-inspection commands: version and system info. */
#include "cmd_system.h"

#include <stdlib.h>
#include <string.h>

#include "banger/alloc.h"
#include "http.h"
#include "output.h"
#include "table.h"

int bg_cli_system_version(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    bg_auto(bg_cli_json_decrefp) json_t *j = NULL;
    int r = bg_cli_http_call(socket, "GET", "/v1/system/version", NULL, &j, err);

    if (a->json) {
        if (r < 0 || !json_is_object(j)) {
            json_decref(j);
            j = json_object();
        }
        (void)json_object_set_new(j, "client_version", json_string(BANGER_VERSION));
        bg_cli_output_json(stdout, j);
        return r;
    }
    printf("client: %s\n", BANGER_VERSION);
    if (r < 0)
        return r;
    printf("daemon: %s (api %s)\n", bg_cli_json_str(j, "version"),
           bg_cli_json_str(j, "api_version"));
    return 0;
}

static void print_facts(const json_t *info)
{
    char age[BG_CLI_TEXT_MAX], num[BG_CLI_TEXT_MAX];
    const char *started = json_string_value(json_object_get(info, "started_at"));
    const json_t *counts = json_object_get(info, "counts");
    bg_autofree char *when = bg_asprintf("%s (%s)", started ? started : "-",
                                         bg_cli_output_age(started, time(NULL), age));

    bg_cli_output_field(stdout, "version", bg_cli_json_str(info, "version"));
    bg_cli_output_field(stdout, "mode", bg_cli_json_str(info, "mode"));
    snprintf(num, sizeof(num), "%llu", (unsigned long long)bg_cli_json_u64(info, "pid"));
    bg_cli_output_field(stdout, "pid", num);
    bg_cli_output_field(stdout, "started", when);
    bg_cli_output_field(stdout, "socket", bg_cli_json_str(info, "socket"));
    bg_cli_output_field(stdout, "state dir", bg_cli_json_str(info, "state_dir"));
    bg_cli_output_field(stdout, "runtime dir", bg_cli_json_str(info, "runtime_dir"));
    bg_cli_output_field(stdout, "database", bg_cli_json_str(info, "database"));
    const json_t *tls = json_object_get(info, "tls");
    if (json_is_object(tls)) {
        bg_autofree char *listen =
            bg_asprintf("%s, TLS 1.3, certificate SHA-256 %s", bg_cli_json_str(tls, "address"),
                        bg_cli_json_str(tls, "fingerprint"));
        bg_cli_output_field(stdout, "tcp", listen);
    }
    snprintf(num, sizeof(num), "%llu", (unsigned long long)bg_cli_json_u64(counts, "vms"));
    bg_cli_output_field(stdout, "vms", num);
    snprintf(num, sizeof(num), "%llu", (unsigned long long)bg_cli_json_u64(counts, "images"));
    bg_cli_output_field(stdout, "images", num);
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* A config value as text: strings as they are, other JSON compact. Caller frees. */
static char *config_value(const json_t *v)
{
    if (json_is_string(v))
        return bg_strdup(json_string_value(v));
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    return s ? s : bg_strdup("-");
}

static void print_config(const json_t *config)
{
    static const char *const head[] = {"KEY", "VALUE", "SOURCE"};
    bg_auto(bg_cli_table_freep) struct bg_cli_table *t = bg_cli_table_new(head, 3);
    size_t n = json_object_size(config), i = 0;
    bg_autofree const char **keys = bg_calloc(n ? n : 1, sizeof(*keys));
    const char *key;
    json_t *entry;

    json_object_foreach ((json_t *)config, key, entry)
        keys[i++] = key;
    qsort(keys, n, sizeof(*keys), cmp_str);
    for (i = 0; i < n; i++) {
        entry = json_object_get(config, keys[i]);
        bg_autofree char *value = config_value(json_object_get(entry, "value"));
        const char *row[] = {keys[i], value, bg_cli_json_str(entry, "source")};
        bg_cli_table_add(t, row);
    }
    bg_cli_table_print(t, stdout);
}

int bg_cli_system_info(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    bg_auto(bg_cli_json_decrefp) json_t *j = NULL;
    int r = bg_cli_http_call(socket, "GET", "/v1/system/info", NULL, &j, err);

    if (r < 0)
        return r;
    if (a->json) {
        bg_cli_output_json(stdout, j);
        return 0;
    }
    print_facts(j);
    printf("\n");
    print_config(json_object_get(j, "config"));
    return 0;
}
