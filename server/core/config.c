/* SPDX-License-Identifier: MIT */
/* Builds bangerd's configuration from defaults, a TOML-subset file, BANGERD_* and flags. */
#include "core/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/fingerprint.h"
#include "banger/install.h"
#include "banger/kvfile.h"
#include "banger/parse.h"
#include "banger/utf8.h"
#include "banger/validate.h"
#include "host/listen.h"

/* The config file is in banger's TOML subset (banger/kvfile.h, shared with install.toml). Keys
 * are the names of enum bg_config_key (except config_file), each at most once; every refusal
 * names the file, the line and (when known) the key. */

#define SOCKET_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

enum kind {
    KIND_MODE,      /* "user" | "system" */
    KIND_PATH,      /* bg_path_validate */
    KIND_LOG_LEVEL, /* bg_log_level_parse */
    KIND_U64,       /* bg_parse_u64 within [min, max] */
    KIND_CHOICE,    /* one of choices[key], stored in a char[16] at offset */
    KIND_BOOL,      /* true | false */
    KIND_NAME,      /* bg_name_validate, stored in a char[BG_NAME_MAX + 1] at offset */
    KIND_PACKAGES,  /* Debian package names (bg_package_validate) separated by commas or blanks,
                     * stored space-separated in a char * at offset */
    KIND_ADDR,      /* bg_listen_tcp_parse; a char * like KIND_PATH */
    KIND_FPRINTS,   /* comma-separated bg_fingerprint_parse, stored normalised; char * */
};

#define CHOICE_MAX 16 /* bytes of a KIND_CHOICE value, NUL included */
_Static_assert(sizeof(((struct bg_config *)0)->vmm) == CHOICE_MAX &&
                   sizeof(((struct bg_config *)0)->accel) == CHOICE_MAX,
               "choice keys are char[CHOICE_MAX]");

/* The values a KIND_CHOICE key takes, the first being its default. */
static const char *const choices[][4] = {
    [BG_CONFIG_KEY_VMM] = {"auto", "qemu", "firecracker", NULL},
    [BG_CONFIG_KEY_ACCEL] = {"auto", "kvm", "tcg", NULL},
};

struct key_desc {
    const char *name; /* file and JSON name */
    const char *env;  /* environment variable */
    enum kind kind;
    size_t offset;            /* of the char * or uint64_t in struct bg_config */
    uint64_t min, max, value; /* KIND_U64: range and default */
};

#define PATH_KEY(k, n, e) [k] = {#n, e, KIND_PATH, offsetof(struct bg_config, n), 0, 0, 0}
#define U64_KEY(k, n, e, lo, hi, def)                                                              \
    [k] = {#n, e, KIND_U64, offsetof(struct bg_config, n), lo, hi, def}

static const struct key_desc keys[BG_CONFIG_KEY_COUNT] = {
    [BG_CONFIG_KEY_MODE] = {"mode", "BANGERD_MODE", KIND_MODE, 0, 0, 0, 0},
    PATH_KEY(BG_CONFIG_KEY_SOCKET, socket, "BANGERD_SOCKET"),
    PATH_KEY(BG_CONFIG_KEY_STATE_DIR, state_dir, "BANGERD_STATE_DIR"),
    PATH_KEY(BG_CONFIG_KEY_RUNTIME_DIR, runtime_dir, "BANGERD_RUNTIME_DIR"),
    PATH_KEY(BG_CONFIG_KEY_CACHE_DIR, cache_dir, "BANGERD_CACHE_DIR"),
    PATH_KEY(BG_CONFIG_KEY_CONFIG_FILE, config_file, "BANGERD_CONFIG"),
    [BG_CONFIG_KEY_LOG_LEVEL] = {"log_level", "BANGERD_LOG_LEVEL", KIND_LOG_LEVEL, 0, 0, 0, 0},
    U64_KEY(BG_CONFIG_KEY_SHUTDOWN_TIMEOUT_S, shutdown_timeout_s, "BANGERD_SHUTDOWN_TIMEOUT_S", 1,
            300, 10),
    U64_KEY(BG_CONFIG_KEY_BODY_MAX_BYTES, body_max_bytes, "BANGERD_BODY_MAX_BYTES", 1024, 1048576,
            65536),
    U64_KEY(BG_CONFIG_KEY_EVENT_HISTORY, event_history, "BANGERD_EVENT_HISTORY", 100, 1000000,
            10000),
    U64_KEY(BG_CONFIG_KEY_VM_DEFAULT_VCPUS, vm_default_vcpus, "BANGERD_VM_DEFAULT_VCPUS", 1, 32, 2),
    U64_KEY(BG_CONFIG_KEY_VM_DEFAULT_MEMORY_MIB, vm_default_memory_mib,
            "BANGERD_VM_DEFAULT_MEMORY_MIB", 128, 65536, 1024),
    U64_KEY(BG_CONFIG_KEY_VM_DEFAULT_DISK_MIB, vm_default_disk_mib, "BANGERD_VM_DEFAULT_DISK_MIB",
            512, 1048576, 8192),
    [BG_CONFIG_KEY_VMM] = {"vmm", "BANGERD_VMM", KIND_CHOICE, offsetof(struct bg_config, vmm), 0, 0,
                           0},
    [BG_CONFIG_KEY_ACCEL] = {"accel", "BANGERD_ACCEL", KIND_CHOICE,
                             offsetof(struct bg_config, accel), 0, 0, 0},
    PATH_KEY(BG_CONFIG_KEY_FIRECRACKER_PATH, firecracker_path, "BANGERD_FIRECRACKER_PATH"),
    [BG_CONFIG_KEY_FIRECRACKER_KVM_CHECK] = {"firecracker_kvm_check",
                                             "BANGERD_FIRECRACKER_KVM_CHECK", KIND_BOOL,
                                             offsetof(struct bg_config, firecracker_kvm_check), 0,
                                             1, 1},
    U64_KEY(BG_CONFIG_KEY_HTTP_CONNECTIONS_MAX, http_connections_max,
            "BANGERD_HTTP_CONNECTIONS_MAX", 4, 65536, 256),
    U64_KEY(BG_CONFIG_KEY_HTTP_CLIENT_CONNECTIONS_MAX, http_client_connections_max,
            "BANGERD_HTTP_CLIENT_CONNECTIONS_MAX", 1, 65536, 32),
    U64_KEY(BG_CONFIG_KEY_HTTP_HEADER_TIMEOUT_S, http_header_timeout_s,
            "BANGERD_HTTP_HEADER_TIMEOUT_S", 1, 300, 10),
    U64_KEY(BG_CONFIG_KEY_HTTP_IDLE_TIMEOUT_S, http_idle_timeout_s, "BANGERD_HTTP_IDLE_TIMEOUT_S",
            1, 3600, 60),
    U64_KEY(BG_CONFIG_KEY_CONSOLE_MAX_BYTES, console_max_bytes, "BANGERD_CONSOLE_MAX_BYTES", 65536,
            1073741824, 4194304),
    U64_KEY(BG_CONFIG_KEY_OPERATION_HISTORY, operation_history, "BANGERD_OPERATION_HISTORY", 10,
            1000000, 1000),
    PATH_KEY(BG_CONFIG_KEY_INSTALL_FILE, install_file, "BANGERD_INSTALL_FILE"),
    [BG_CONFIG_KEY_VM_DEFAULT_IMAGE] = {"vm_default_image", "BANGERD_VM_DEFAULT_IMAGE", KIND_NAME,
                                        offsetof(struct bg_config, vm_default_image), 0, 0, 0},
    [BG_CONFIG_KEY_IMAGE_DEV_PACKAGES] = {"image_dev_packages", "BANGERD_IMAGE_DEV_PACKAGES",
                                          KIND_PACKAGES,
                                          offsetof(struct bg_config, image_dev_packages), 0, 0, 0},
    [BG_CONFIG_KEY_LISTEN_TCP] = {"listen_tcp", "BANGERD_LISTEN_TCP", KIND_ADDR,
                                  offsetof(struct bg_config, listen_tcp), 0, 0, 0},
    PATH_KEY(BG_CONFIG_KEY_TLS_CERT, tls_cert, "BANGERD_TLS_CERT"),
    PATH_KEY(BG_CONFIG_KEY_TLS_KEY, tls_key, "BANGERD_TLS_KEY"),
    [BG_CONFIG_KEY_TLS_CLIENT_FINGERPRINTS] = {"tls_client_fingerprints",
                                               "BANGERD_TLS_CLIENT_FINGERPRINTS", KIND_FPRINTS,
                                               offsetof(struct bg_config, tls_client_fingerprints),
                                               0, 0, 0},
    PATH_KEY(BG_CONFIG_KEY_DOCTOR_ROOT, doctor_root, "BANGERD_DOCTOR_ROOT"),
};

#define PACKAGES_MAX 64 /* names in image_dev_packages */

#define NO_KEY (-1)

struct flag_desc {
    const char *name;             /* "--socket" */
    int key;                      /* enum bg_config_key it sets, or NO_KEY */
    enum bg_config_action action; /* for NO_KEY flags */
};

static const struct flag_desc flags[] = {
    {"--system", BG_CONFIG_KEY_MODE, BG_CONFIG_ACTION_RUN},
    {"--config", BG_CONFIG_KEY_CONFIG_FILE, BG_CONFIG_ACTION_RUN},
    {"--socket", BG_CONFIG_KEY_SOCKET, BG_CONFIG_ACTION_RUN},
    {"--state-dir", BG_CONFIG_KEY_STATE_DIR, BG_CONFIG_ACTION_RUN},
    {"--runtime-dir", BG_CONFIG_KEY_RUNTIME_DIR, BG_CONFIG_ACTION_RUN},
    {"--cache-dir", BG_CONFIG_KEY_CACHE_DIR, BG_CONFIG_ACTION_RUN},
    {"--log-level", BG_CONFIG_KEY_LOG_LEVEL, BG_CONFIG_ACTION_RUN},
    {"--shutdown-timeout", BG_CONFIG_KEY_SHUTDOWN_TIMEOUT_S, BG_CONFIG_ACTION_RUN},
    {"--print-routes", NO_KEY, BG_CONFIG_ACTION_PRINT_ROUTES},
    {"--print-scopes", NO_KEY, BG_CONFIG_ACTION_PRINT_SCOPES},
    {"--version", NO_KEY, BG_CONFIG_ACTION_VERSION},
    {"--help", NO_KEY, BG_CONFIG_ACTION_HELP},
    {"-h", NO_KEY, BG_CONFIG_ACTION_HELP},
};

/* Working state of one bg_config_load() call. */
struct loader {
    struct bg_config *cfg;
    const struct bg_config_env *env;
    const struct bg_config_args *args;
    const char *mode_origin;                 /* "--system"/"BANGERD_MODE", or NULL */
    bool config_explicit;                    /* named by --config or BANGERD_CONFIG */
    unsigned file_line[BG_CONFIG_KEY_COUNT]; /* line that set each key, 0 if none */
};

const char *bg_config_key_name(enum bg_config_key key)
{
    return (unsigned)key < BG_CONFIG_KEY_COUNT ? keys[key].name : NULL;
}

const char *bg_config_mode_name(enum bg_config_mode mode)
{
    return mode == BG_CONFIG_MODE_SYSTEM ? "system" : "user";
}

static char **path_slot(struct bg_config *cfg, enum bg_config_key k)
{
    return (char **)((char *)cfg + keys[k].offset);
}

static uint64_t *u64_slot(struct bg_config *cfg, enum bg_config_key k)
{
    return (uint64_t *)((char *)cfg + keys[k].offset);
}

static const char *env_get(const struct bg_config_env *env, const char *name)
{
    size_t n = strlen(name);

    for (char *const *e = env->envp; e && *e; e++)
        if (!strncmp(*e, name, n) && (*e)[n] == '=')
            return (*e)[n + 1] ? *e + n + 1 : NULL; /* empty counts as unset */
    return NULL;
}

static int path_check(enum bg_config_key k, const char *text, struct bg_error *err)
{
    int r = bg_path_validate(text, err);
    if (r < 0)
        return r;
    if (k == BG_CONFIG_KEY_SOCKET && strlen(text) > SOCKET_PATH_MAX)
        return bg_error_set(err, -EINVAL, "'%s' is longer than a unix socket path (%zu bytes)",
                            text, SOCKET_PATH_MAX);
    return 0;
}

static int choice_store(struct bg_config *cfg, enum bg_config_key k, const char *text,
                        struct bg_error *err)
{
    const char *const *c = choices[k];

    for (size_t i = 0; c[i]; i++)
        if (!strcmp(text, c[i])) {
            snprintf((char *)cfg + keys[k].offset, CHOICE_MAX, "%s", text);
            return 0;
        }
    return bg_error_set(err, -EINVAL, "'%s' is not one of %s, %s, %s", BG_QUOTE(text), c[0], c[1],
                        c[2]);
}

/* "a, b c" as "a b c", every name checked, at most PACKAGES_MAX of them. */
static int packages_parse(const char *text, char **ret, struct bg_error *err)
{
    bg_autofree char *out = bg_strdup("");
    size_t count = 0;

    for (const char *p = text;;) {
        p += strspn(p, ", \t");
        if (!*p)
            break;
        size_t n = strcspn(p, ", \t");
        bg_autofree char *name = bg_strndup(p, n);
        int r = bg_package_validate(name, err);
        if (r < 0)
            return r;
        if (++count > PACKAGES_MAX)
            return bg_error_set(err, -EINVAL, "more than %d packages", PACKAGES_MAX);
        char *next = bg_asprintf("%s%s%s", out, *out ? " " : "", name);
        free(out);
        out = next;
        p += n;
    }
    *ret = bg_steal_ptr(&out);
    return 0;
}

/* The kinds whose value is a string the struct owns. */
static bool owns_string(enum kind kind)
{
    return kind == KIND_PATH || kind == KIND_PACKAGES || kind == KIND_ADDR || kind == KIND_FPRINTS;
}

static void string_store(struct bg_config *cfg, enum bg_config_key k, char *take)
{
    free(*path_slot(cfg, k));
    *path_slot(cfg, k) = take;
}

/* "fp, fp" -> "hex,hex": each entry a fingerprint, at most BG_CONFIG_FINGERPRINTS_MAX. */
static int fingerprints_parse(const char *text, char **ret, struct bg_error *err)
{
    bg_autofree char *out = bg_malloc(BG_CONFIG_FINGERPRINTS_MAX * BG_FINGERPRINT_HEX_MAX + 1);
    size_t n = 0, count = 0;
    const char *p = text;

    out[0] = '\0';
    for (;;) {
        uint8_t fp[BG_FINGERPRINT_BYTES];
        char hex[BG_FINGERPRINT_HEX_MAX];
        p += strspn(p, " ");
        size_t len = strcspn(p, ", ");
        if (count == BG_CONFIG_FINGERPRINTS_MAX)
            return bg_error_set(err, -EINVAL, "at most %d fingerprints",
                                BG_CONFIG_FINGERPRINTS_MAX);
        if (bg_fingerprint_parse(p, len, fp, err) < 0)
            return bg_error_prefix(err, -EINVAL, "fingerprint %zu", count + 1);
        n += (size_t)sprintf(out + n, "%s%s", count ? "," : "", bg_fingerprint_format(fp, hex));
        count++;
        p += len;
        p += strspn(p, " ");
        if (*p == '\0')
            break;
        if (*p++ != ',')
            return bg_error_set(err, -EINVAL, "fingerprints are separated by ','");
    }
    *ret = bg_steal_ptr(&out);
    return 0;
}

/* Parse text as key k's kind and store it; the caller records the source. */
static int key_store(struct bg_config *cfg, enum bg_config_key k, const char *text,
                     struct bg_error *err)
{
    const struct key_desc *d = &keys[k];
    int r;

    switch (d->kind) {
    case KIND_MODE:
        if (!strcmp(text, "user") || !strcmp(text, "system")) {
            cfg->mode = text[0] == 's' ? BG_CONFIG_MODE_SYSTEM : BG_CONFIG_MODE_USER;
            return 0;
        }
        return bg_error_set(err, -EINVAL, "'%s' is not one of user, system", BG_QUOTE(text));
    case KIND_LOG_LEVEL:
        if (bg_log_level_parse(text, &cfg->log_level) == 0)
            return 0;
        return bg_error_set(err, -EINVAL, "'%s' is not one of error, warn, info, debug",
                            BG_QUOTE(text));
    case KIND_PATH:
        r = path_check(k, text, err);
        if (r < 0)
            return r;
        free(*path_slot(cfg, k));
        *path_slot(cfg, k) = bg_strdup(text);
        return 0;
    case KIND_U64:
        return bg_parse_u64(text, d->min, d->max, u64_slot(cfg, k), err);
    case KIND_CHOICE:
        return choice_store(cfg, k, text, err);
    case KIND_BOOL:
        if (strcmp(text, "true") && strcmp(text, "false"))
            return bg_error_set(err, -EINVAL, "'%s' is not true or false", BG_QUOTE(text));
        *(bool *)((char *)cfg + d->offset) = text[0] == 't';
        return 0;
    case KIND_NAME:
        if ((r = bg_name_validate(text, err)) < 0)
            return r;
        snprintf((char *)cfg + d->offset, BG_NAME_MAX + 1, "%s", text);
        return 0;
    case KIND_PACKAGES: {
        char *list = NULL;
        if ((r = packages_parse(text, &list, err)) < 0)
            return r;
        free(*path_slot(cfg, k));
        *path_slot(cfg, k) = list;
        return 0;
    }
    case KIND_ADDR: {
        struct sockaddr_storage ss;
        socklen_t len;
        if ((r = bg_listen_tcp_parse(text, &ss, &len, err)) < 0)
            return r;
        string_store(cfg, k, bg_strdup(text));
        return 0;
    }
    case KIND_FPRINTS: {
        char *list = NULL;
        if ((r = fingerprints_parse(text, &list, err)) < 0)
            return r;
        string_store(cfg, k, list);
        return 0;
    }
    }
    return bg_error_set(err, -EINVAL, "key '%s' has no kind", d->name);
}

static void source_set(struct bg_config *cfg, enum bg_config_key k, char *take)
{
    free(cfg->source[k]);
    cfg->source[k] = take;
}

static int apply_env(struct loader *ld, enum bg_config_key k, struct bg_error *err)
{
    const char *text = env_get(ld->env, keys[k].env);

    if (!text)
        return 0;
    int r = key_store(ld->cfg, k, text, err);
    if (r < 0)
        return bg_error_prefix(err, r, "environment variable %s", keys[k].env);
    source_set(ld->cfg, k, bg_asprintf("env:%s", keys[k].env));
    return 1;
}

static int apply_flag(struct loader *ld, enum bg_config_key k, struct bg_error *err)
{
    if (!ld->args->value[k])
        return 0;
    int r = key_store(ld->cfg, k, ld->args->value[k], err);
    if (r < 0)
        return bg_error_prefix(err, r, "option %s", ld->args->flag[k]);
    source_set(ld->cfg, k, bg_asprintf("flag:%s", ld->args->flag[k]));
    return 1;
}

/* ---- argv ---- */

static const struct flag_desc *flag_find(const char *arg, size_t len)
{
    for (size_t i = 0; i < BG_ARRAY_SIZE(flags); i++)
        if (strlen(flags[i].name) == len && !strncmp(flags[i].name, arg, len))
            return &flags[i];
    return NULL;
}

/* value as key k takes it, checked now so that every mistake in argv is a usage error. */
static int flag_check(const struct flag_desc *fd, const char *value, struct bg_error *err)
{
    struct bg_config probe = {0};
    int r = key_store(&probe, (enum bg_config_key)fd->key, value, err);

    bg_config_done(&probe);
    return r < 0 ? bg_error_prefix(err, r, "option %s", fd->name) : 0;
}

/* Record one flag; *i advances past a separate value. */
static int flag_take(struct bg_config_args *a, int argc, char *const *argv, int *i,
                     struct bg_error *err)
{
    const char *arg = argv[*i];
    const char *eq = strncmp(arg, "--", 2) ? NULL : strchr(arg, '=');
    const struct flag_desc *fd = flag_find(arg, eq ? (size_t)(eq - arg) : strlen(arg));

    if (!fd && arg[0] != '-')
        return bg_error_set(err, -EINVAL, "unexpected argument '%s' (see --help)", BG_QUOTE(arg));
    if (!fd)
        return bg_error_set(err, -EINVAL, "unknown option '%s' (see --help)", BG_QUOTE(arg));
    bool takes_value = fd->key != NO_KEY && fd->key != BG_CONFIG_KEY_MODE;
    if (!takes_value && eq)
        return bg_error_set(err, -EINVAL, "option %s takes no value", fd->name);
    if (fd->key == NO_KEY) {
        if (fd->action > a->action)
            a->action = fd->action;
        return 0;
    }
    const char *value = "system"; /* --system */
    if (takes_value) {
        value = eq ? eq + 1 : (*i + 1 < argc ? argv[++*i] : NULL);
        if (!value)
            return bg_error_set(err, -EINVAL, "option %s needs a value", fd->name);
    }
    if (a->value[fd->key])
        return bg_error_set(err, -EINVAL, "option %s given twice", fd->name);
    int r = flag_check(fd, value, err);
    if (r < 0)
        return r;
    a->value[fd->key] = value;
    a->flag[fd->key] = fd->name;
    return 0;
}

int bg_config_args_parse(int argc, char *const *argv, struct bg_config_args *ret,
                         struct bg_error *err)
{
    struct bg_config_args a = {.action = BG_CONFIG_ACTION_RUN};

    for (int i = 1; i < argc; i++) {
        int r = flag_take(&a, argc, argv, &i, err);
        if (r < 0)
            return r;
    }
    *ret = a;
    return 0;
}

/* ---- default paths ---- */

/* base (trailing slashes dropped) + suffix, checked; *ret is NULL when base is unset. */
static int path_join(const char *var, const char *base, const char *suffix, char **ret,
                     struct bg_error *err)
{
    size_t n = strlen(base);

    while (n > 0 && base[n - 1] == '/')
        n--;
    bg_autofree char *p = bg_asprintf("%.*s%s", (int)n, base, suffix);
    int r = bg_path_validate(p, err);
    if (r < 0)
        return bg_error_prefix(err, r, "cannot derive a path from %s", var);
    *ret = bg_steal_ptr(&p);
    return 0;
}

/* $xdg/leaf when xdg is set and absolute (XDG says to ignore relative values), else
 * $HOME/home_rel/leaf, else *ret = NULL. */
static int xdg_path(const struct bg_config_env *env, const char *xdg, const char *home_rel,
                    const char *leaf, char **ret, struct bg_error *err)
{
    const char *base = env_get(env, xdg);
    const char *home = env_get(env, "HOME");

    *ret = NULL;
    if (base && base[0] == '/') {
        bg_autofree char *suffix = bg_asprintf("/%s", leaf);
        return path_join(xdg, base, suffix, ret, err);
    }
    if (!home)
        return 0;
    bg_autofree char *suffix = bg_asprintf("/%s/%s", home_rel, leaf);
    return path_join("HOME", home, suffix, ret, err);
}

static int default_config_file(const struct loader *ld, char **ret, struct bg_error *err)
{
    if (ld->cfg->mode == BG_CONFIG_MODE_SYSTEM) {
        *ret = bg_strdup("/etc/banger/bangerd.toml");
        return 0;
    }
    return xdg_path(ld->env, "XDG_CONFIG_HOME", ".config", "banger/bangerd.toml", ret, err);
}

static int default_state_dir(const struct loader *ld, char **ret, struct bg_error *err)
{
    if (ld->cfg->mode == BG_CONFIG_MODE_SYSTEM) {
        *ret = bg_strdup("/var/lib/banger");
        return 0;
    }
    int r = xdg_path(ld->env, "XDG_STATE_HOME", ".local/state", "banger", ret, err);
    if (r < 0)
        return r;
    if (!*ret)
        return bg_error_set(err, -EINVAL,
                            "cannot derive state_dir: neither XDG_STATE_HOME nor "
                            "HOME is set; use --state-dir or BANGERD_STATE_DIR");
    return 0;
}

static int default_runtime_dir(const struct loader *ld, char **ret, struct bg_error *err)
{
    const char *xdg = env_get(ld->env, "XDG_RUNTIME_DIR");

    if (ld->cfg->mode == BG_CONFIG_MODE_SYSTEM)
        *ret = bg_strdup("/run/banger");
    else if (xdg && xdg[0] == '/')
        return path_join("XDG_RUNTIME_DIR", xdg, "/banger", ret, err);
    else
        *ret = bg_asprintf("/run/user/%u/banger", (unsigned)ld->env->uid);
    return 0;
}

static int default_cache_dir(const struct loader *ld, char **ret, struct bg_error *err)
{
    if (ld->cfg->mode == BG_CONFIG_MODE_SYSTEM) {
        *ret = bg_strdup("/var/cache/banger");
        return 0;
    }
    int r = xdg_path(ld->env, "XDG_CACHE_HOME", ".cache", "banger", ret, err);
    /* Without XDG_CACHE_HOME and HOME (a service with only --state-dir), keep the cache
     * beside the state rather than refuse to start. */
    if (r >= 0 && !*ret)
        *ret = bg_asprintf("%s/cache", ld->cfg->state_dir);
    return r;
}

/* Fill state_dir, runtime_dir, cache_dir and socket that no layer set, from the final mode. */
static int derive_paths(struct loader *ld, struct bg_error *err)
{
    struct bg_config *cfg = ld->cfg;
    int r = 0;

    if (!cfg->state_dir)
        r = default_state_dir(ld, &cfg->state_dir, err);
    if (r >= 0 && !cfg->runtime_dir)
        r = default_runtime_dir(ld, &cfg->runtime_dir, err);
    if (r >= 0 && !cfg->cache_dir)
        r = default_cache_dir(ld, &cfg->cache_dir, err);
    if (r >= 0 && !cfg->install_file)
        cfg->install_file = bg_strdup(BG_INSTALL_FILE);
    if (r < 0 || cfg->socket)
        return r;
    bg_autofree char *sock = bg_asprintf("%s/bangerd.sock", cfg->runtime_dir);
    r = path_check(BG_CONFIG_KEY_SOCKET, sock, err);
    if (r < 0)
        return bg_error_prefix(err, r, "socket derived from runtime_dir (set socket explicitly)");
    cfg->socket = bg_steal_ptr(&sock);
    return 0;
}

/* ---- config file (banger/kvfile.h: the format shared with install.toml) ---- */

static int key_lookup(const char *name, enum bg_config_key *ret)
{
    for (int k = 0; k < BG_CONFIG_KEY_COUNT; k++)
        if (!strcmp(keys[k].name, name)) {
            *ret = (enum bg_config_key)k;
            return 0;
        }
    return -ENOENT;
}

/* The file type a key of kind takes. */
static enum bg_kv_type kind_type(enum kind kind)
{
    return kind == KIND_U64 ? BG_KV_INTEGER : kind == KIND_BOOL ? BG_KV_BOOL : BG_KV_STRING;
}

/* A file's mode applies unless flags or environment chose one; contradicting them is an
 * error rather than a silent override, since that mode already chose which file was read.
 * Returns 1 when the file agrees with them (they keep the provenance). */
static int file_mode_store(struct loader *ld, const char *text, struct bg_error *err)
{
    struct bg_config probe = {0};
    int r = key_store(&probe, BG_CONFIG_KEY_MODE, text, err);

    if (r < 0)
        return r;
    if (!ld->mode_origin) {
        ld->cfg->mode = probe.mode;
        return 0;
    }
    if (probe.mode != ld->cfg->mode)
        return bg_error_set(err, -EINVAL, "'%s' conflicts with %s", text, ld->mode_origin);
    return 1;
}

/* Check and apply the value of key k (already known) that l holds. */
static int file_key_apply(struct loader *ld, enum bg_config_key k, const struct bg_kv_line *l,
                          const char *source, struct bg_error *err)
{
    int r;

    if (kind_type(keys[k].kind) != l->type)
        return bg_error_set(err, -EINVAL, "expected %s, got %s",
                            bg_kv_type_name(kind_type(keys[k].kind)), bg_kv_type_name(l->type));
    if (k == BG_CONFIG_KEY_MODE)
        r = file_mode_store(ld, l->text, err);
    else
        r = key_store(ld->cfg, k, l->text, err);
    if (r != 0)
        return r < 0 ? r : 0;
    source_set(ld->cfg, k, bg_strdup(source));
    return 0;
}

/* One line: blank, comment, or key = value. Errors carry no file:line prefix yet. */
static int file_line_apply(struct loader *ld, const char *line, unsigned lineno,
                           struct bg_error *err)
{
    bg_auto(bg_kv_line_done) struct bg_kv_line l = {0};
    enum bg_config_key k;
    int r = bg_kv_line_parse(line, &l, err);

    if (r < 0 || l.empty)
        return r;
    if (key_lookup(l.key, &k) < 0 || k == BG_CONFIG_KEY_CONFIG_FILE)
        return bg_error_set(err, -EINVAL, "unknown key '%s'", l.key);
    if (ld->file_line[k])
        return bg_error_set(err, -EINVAL, "key '%s': duplicate, first set on line %u", keys[k].name,
                            ld->file_line[k]);
    bg_autofree char *source = bg_asprintf("file:%s:%u", ld->cfg->config_file, lineno);
    if ((r = file_key_apply(ld, k, &l, source, err)) < 0)
        return bg_error_prefix(err, r, "key '%s'", keys[k].name);
    ld->file_line[k] = lineno;
    return 0;
}

static void fclosep(FILE **f)
{
    if (*f)
        (void)fclose(*f);
}

static int file_load(struct loader *ld, struct bg_error *err)
{
    const char *path = ld->cfg->config_file;
    char line[BG_KV_LINE_MAX + 2];
    int r;

    if (!path)
        return 0;
    bg_auto(fclosep) FILE *f = NULL;
    if ((r = bg_kv_file_open(path, &f, err)) == -ENOENT && !ld->config_explicit)
        return 0;
    if (r < 0)
        return bg_error_prefix(err, r, "config file");
    for (unsigned lineno = 1;; lineno++) {
        r = bg_kv_line_read(f, line, BG_KV_LINE_MAX + 1, err);
        if (r == 0)
            break;
        if (r > 0)
            r = file_line_apply(ld, line, lineno, err);
        if (r < 0)
            return bg_error_prefix(err, r, "%s:%u", path, lineno);
    }
    ld->cfg->config_file_loaded = true;
    return 0;
}

/* ---- layers ---- */

static void defaults_set(struct bg_config *cfg)
{
    cfg->mode = BG_CONFIG_MODE_USER;
    cfg->log_level = BG_LOG_INFO;
    snprintf(cfg->vm_default_image, sizeof(cfg->vm_default_image), "default");
    for (int k = 0; k < BG_CONFIG_KEY_COUNT; k++) {
        if (keys[k].kind == KIND_U64)
            *u64_slot(cfg, (enum bg_config_key)k) = keys[k].value;
        if (keys[k].kind == KIND_CHOICE)
            snprintf((char *)cfg + keys[k].offset, CHOICE_MAX, "%s", choices[k][0]);
        if (keys[k].kind == KIND_BOOL)
            *(bool *)((char *)cfg + keys[k].offset) = keys[k].value != 0;
        if (keys[k].kind == KIND_PACKAGES)
            *path_slot(cfg, (enum bg_config_key)k) = bg_strdup("");
        cfg->source[k] = bg_strdup("default");
    }
}

/* Mode and config file first (flags, then environment), since they pick the file. */
static int early_resolve(struct loader *ld, struct bg_error *err)
{
    int r = apply_flag(ld, BG_CONFIG_KEY_MODE, err);
    if (r == 0)
        r = apply_env(ld, BG_CONFIG_KEY_MODE, err);
    if (r < 0)
        return r;
    if (r > 0)
        ld->mode_origin = ld->args->value[BG_CONFIG_KEY_MODE] ? "--system" : "BANGERD_MODE";

    r = apply_flag(ld, BG_CONFIG_KEY_CONFIG_FILE, err);
    if (r == 0)
        r = apply_env(ld, BG_CONFIG_KEY_CONFIG_FILE, err);
    if (r < 0)
        return r;
    ld->config_explicit = r > 0;
    if (!ld->config_explicit)
        return default_config_file(ld, &ld->cfg->config_file, err);
    return 0;
}

/* Environment, then flags, for every key but the two early_resolve() handled. */
static int late_apply(struct loader *ld, struct bg_error *err)
{
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < BG_CONFIG_KEY_COUNT; i++) {
            enum bg_config_key k = (enum bg_config_key)i;
            if (k == BG_CONFIG_KEY_MODE || k == BG_CONFIG_KEY_CONFIG_FILE)
                continue;
            int r = pass == 0 ? apply_env(ld, k, err) : apply_flag(ld, k, err);
            if (r < 0)
                return r;
        }
    return 0;
}

int bg_config_load(struct bg_config *cfg, const struct bg_config_args *args,
                   const struct bg_config_env *env, struct bg_error *err)
{
    struct loader ld = {.cfg = cfg, .env = env, .args = args};
    int r;

    memset(cfg, 0, sizeof(*cfg));
    defaults_set(cfg);
    r = early_resolve(&ld, err);
    if (r >= 0)
        r = file_load(&ld, err);
    if (r >= 0)
        r = late_apply(&ld, err);
    if (r >= 0)
        r = derive_paths(&ld, err);
    if (r >= 0 && !cfg->tls_cert != !cfg->tls_key)
        r = bg_error_set(err, -EINVAL,
                         "tls_cert and tls_key go together: set both (a certificate and its key) "
                         "or neither (a self-signed pair is made in the state directory)");
    if (r < 0)
        bg_config_done(cfg);
    return r < 0 ? r : 0;
}

void bg_config_done(struct bg_config *cfg)
{
    if (!cfg)
        return;
    for (int k = 0; k < BG_CONFIG_KEY_COUNT; k++) {
        if (owns_string(keys[k].kind))
            free(*path_slot(cfg, (enum bg_config_key)k));
        free(cfg->source[k]);
    }
    memset(cfg, 0, sizeof(*cfg));
}

static json_t *key_value_json(const struct bg_config *cfg, enum bg_config_key k)
{
    const char *base = (const char *)cfg + keys[k].offset;
    const char *s;
    uint64_t n;

    switch (keys[k].kind) {
    case KIND_MODE:
        return json_string(bg_config_mode_name(cfg->mode));
    case KIND_LOG_LEVEL:
        return json_string(bg_log_level_name(cfg->log_level));
    case KIND_PATH:
    case KIND_ADDR:
    case KIND_FPRINTS:
        memcpy(&s, base, sizeof(s));
        return s ? json_string(s) : json_null();
    case KIND_U64:
        memcpy(&n, base, sizeof(n));
        return json_integer((json_int_t)n);
    case KIND_CHOICE:
        return json_string(base);
    case KIND_BOOL:
        return json_boolean(*(const bool *)base);
    case KIND_NAME:
        return json_string(base);
    case KIND_PACKAGES:
        memcpy(&s, base, sizeof(s));
        return json_string(s ? s : "");
    }
    return json_null();
}

json_t *bg_config_to_json(const struct bg_config *cfg)
{
    json_t *obj = json_object();

    for (int i = 0; i < BG_CONFIG_KEY_COUNT; i++) {
        enum bg_config_key k = (enum bg_config_key)i;
        const char *src = cfg->source[k] ? cfg->source[k] : "default";
        /* json_pack's "o" steals the value reference; set_new steals the entry. */
        json_object_set_new(obj, keys[k].name,
                            json_pack("{s:o,s:s}", "value", key_value_json(cfg, k), "source", src));
    }
    return obj;
}

const char *bg_config_usage(void)
{
    return "usage: bangerd [--system] [--config PATH] [--socket PATH] [--state-dir PATH]\n"
           "               [--runtime-dir PATH] [--cache-dir PATH] [--log-level LEVEL]\n"
           "               [--shutdown-timeout S] [--print-routes] [--print-scopes] [--help]\n"
           "               [--version]\n"
           "\n"
           "  --system              system mode: /etc/banger, /var/lib/banger, /run/banger,\n"
           "                        /var/cache/banger\n"
           "  --config PATH         config file (default: $XDG_CONFIG_HOME/banger/bangerd.toml,\n"
           "                        or /etc/banger/bangerd.toml with --system)\n"
           "  --socket PATH         API socket (default: <runtime-dir>/bangerd.sock)\n"
           "  --state-dir PATH      disks and database (default: $XDG_STATE_HOME/banger)\n"
           "  --runtime-dir PATH    sockets and logs (default: $XDG_RUNTIME_DIR/banger)\n"
           "  --cache-dir PATH      downloaded packages (default: $XDG_CACHE_HOME/banger)\n"
           "  --log-level LEVEL     error, warn, info or debug (default: info)\n"
           "  --shutdown-timeout S  seconds to stop gracefully, 1..300 (default: 10)\n"
           "  --print-routes        list the API routes and exit\n"
           "  --print-scopes        list them with the token scope each needs over TCP\n"
           "  --help, -h            show this help and exit\n"
           "  --version             show the version and exit\n"
           "\n"
           "Every config file key can also be set as BANGERD_<KEY> (e.g. BANGERD_LOG_LEVEL);\n"
           "BANGERD_CONFIG names the config file. Flags beat the environment, which beats\n"
           "the file, which beats the built-in defaults.\n";
}
