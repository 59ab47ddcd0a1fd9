/* SPDX-License-Identifier: MIT */
/* Formatting helpers shared by the command files of the CLI. */
#include "output.h"

#include <stdlib.h>
#include <string.h>

#include "banger/alloc.h"

void bg_cli_output_json(FILE *f, const json_t *j)
{
    (void)json_dumpf(j, f, JSON_INDENT(2));
    fputc('\n', f);
}

char *bg_cli_output_size(uint64_t bytes, char buf[BG_CLI_TEXT_MAX])
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    size_t u = 0;

    if (bytes < 1024) {
        snprintf(buf, BG_CLI_TEXT_MAX, "%llu B", (unsigned long long)bytes);
        return buf;
    }
    for (v /= 1024; v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0]); u++)
        v /= 1024;
    snprintf(buf, BG_CLI_TEXT_MAX, "%.1f %s", v, units[u]);
    return buf;
}

char *bg_cli_output_age(const char *ts, time_t now, char buf[BG_CLI_TEXT_MAX])
{
    struct tm tm = {0};
    const char *end = ts ? strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;

    if (!end || (*end != 'Z' && *end != '.')) {
        snprintf(buf, BG_CLI_TEXT_MAX, "%s", ts ? ts : "-");
        return buf;
    }
    long long d = (long long)(now - timegm(&tm));
    if (d < 5)
        snprintf(buf, BG_CLI_TEXT_MAX, "just now");
    else if (d < 60)
        snprintf(buf, BG_CLI_TEXT_MAX, "%llds ago", d);
    else if (d < 3600)
        snprintf(buf, BG_CLI_TEXT_MAX, "%lldm ago", d / 60);
    else if (d < 86400)
        snprintf(buf, BG_CLI_TEXT_MAX, "%lldh ago", d / 3600);
    else
        snprintf(buf, BG_CLI_TEXT_MAX, "%lldd ago", d / 86400);
    return buf;
}

const char *bg_cli_json_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s ? s : "-";
}

uint64_t bg_cli_json_u64(const json_t *o, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(o, key));

    return v > 0 ? (uint64_t)v : 0;
}

const char *bg_cli_json_onoff(const json_t *o, const char *key)
{
    return json_is_true(json_object_get(o, key)) ? "on" : "off";
}

void bg_cli_output_field(FILE *f, const char *key, const char *value)
{
    char label[32];

    snprintf(label, sizeof(label), "%s:", key);
    fprintf(f, "%-13s %s\n", label, value);
}

void bg_cli_output_created(FILE *f, const json_t *o)
{
    char age[BG_CLI_TEXT_MAX];
    const char *created = json_string_value(json_object_get(o, "created_at"));
    bg_autofree char *when = bg_asprintf("%s (%s)", created ? created : "-",
                                         bg_cli_output_age(created, time(NULL), age));

    bg_cli_output_field(f, "created", when);
}

void bg_cli_json_decrefp(json_t **j)
{
    json_decref(*j);
}
