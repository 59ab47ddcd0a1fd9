/* SPDX-License-Identifier: MIT */
/* bangerd's effective configuration and where each value came from. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "banger/error.h"
#include "banger/log.h"
#include "banger/validate.h"

#define BG_CONFIG_FINGERPRINTS_MAX 16 /* entries of tls_client_fingerprints */

/* Which set of default directories applies. */
enum bg_config_mode {
    BG_CONFIG_MODE_USER,   /* XDG directories of the invoking user */
    BG_CONFIG_MODE_SYSTEM, /* /etc/banger, /var/lib/banger, /run/banger */
};

/* What main() should do, from argv. When several are given the later one in this list wins
 * (help over version over print-routes). */
enum bg_config_action {
    BG_CONFIG_ACTION_RUN,          /* serve the API */
    BG_CONFIG_ACTION_PRINT_ROUTES, /* --print-routes: list the routes and exit */
    BG_CONFIG_ACTION_PRINT_SCOPES, /* --print-scopes: the routes with the scope each needs */
    BG_CONFIG_ACTION_VERSION,      /* --version: print the version and exit */
    BG_CONFIG_ACTION_HELP,         /* --help / -h: print bg_config_usage() and exit */
};

/* Every configuration key; the names are those of the file, the JSON and (uppercased,
 * prefixed with BANGERD_) the environment. */
enum bg_config_key {
    BG_CONFIG_KEY_MODE,
    BG_CONFIG_KEY_SOCKET,
    BG_CONFIG_KEY_STATE_DIR,
    BG_CONFIG_KEY_RUNTIME_DIR,
    BG_CONFIG_KEY_CACHE_DIR,
    BG_CONFIG_KEY_CONFIG_FILE, /* not settable in the file itself */
    BG_CONFIG_KEY_LOG_LEVEL,
    BG_CONFIG_KEY_SHUTDOWN_TIMEOUT_S,
    BG_CONFIG_KEY_BODY_MAX_BYTES,
    BG_CONFIG_KEY_EVENT_HISTORY,
    BG_CONFIG_KEY_VM_DEFAULT_VCPUS,
    BG_CONFIG_KEY_VM_DEFAULT_MEMORY_MIB,
    BG_CONFIG_KEY_VM_DEFAULT_DISK_MIB,
    BG_CONFIG_KEY_VMM,
    BG_CONFIG_KEY_ACCEL,
    BG_CONFIG_KEY_FIRECRACKER_PATH,
    BG_CONFIG_KEY_FIRECRACKER_KVM_CHECK,
    BG_CONFIG_KEY_HTTP_CONNECTIONS_MAX,
    BG_CONFIG_KEY_HTTP_CLIENT_CONNECTIONS_MAX,
    BG_CONFIG_KEY_HTTP_HEADER_TIMEOUT_S,
    BG_CONFIG_KEY_HTTP_IDLE_TIMEOUT_S,
    BG_CONFIG_KEY_CONSOLE_MAX_BYTES,
    BG_CONFIG_KEY_OPERATION_HISTORY,
    BG_CONFIG_KEY_INSTALL_FILE,
    BG_CONFIG_KEY_VM_DEFAULT_IMAGE,
    BG_CONFIG_KEY_IMAGE_DEV_PACKAGES,
    BG_CONFIG_KEY_LISTEN_TCP,
    BG_CONFIG_KEY_TLS_CERT,
    BG_CONFIG_KEY_TLS_KEY,
    BG_CONFIG_KEY_TLS_CLIENT_FINGERPRINTS,
    BG_CONFIG_KEY_DOCTOR_ROOT,
    BG_CONFIG_KEY_COUNT,
};

/* The process facts the configuration depends on, injectable so tests need not touch the
 * real environment. main() passes { .envp = environ, .uid = getuid() }. */
struct bg_config_env {
    char *const *envp; /* borrowed "NAME=value" strings, NULL-terminated; NULL means empty */
    uid_t uid;         /* for the /run/user/UID fallback of the runtime directory */
};

/* What argv said. Strings are borrowed from argv. */
struct bg_config_args {
    enum bg_config_action action;           /* what main() should do */
    const char *value[BG_CONFIG_KEY_COUNT]; /* per key: the option's value, NULL when absent */
    const char *flag[BG_CONFIG_KEY_COUNT];  /* per key: the option that gave it ("--socket") */
};

/* Parse argv (argv[0] is the program name, skipped) into *ret: every option known, given at
 * most once, with a value where it takes one, and that value as its key takes it. Nothing else
 * is read. Returns 0, or -EINVAL / -ERANGE with err naming the option: a usage error. */
int bg_config_args_parse(int argc, char *const *argv, struct bg_config_args *ret,
                         struct bg_error *err);

/* Effective configuration. Strings are heap copies owned by the struct. */
struct bg_config {
    enum bg_config_mode mode;       /* user or system */
    char *socket;                   /* API unix socket; default <runtime_dir>/bangerd.sock */
    char *state_dir;                /* disks, database */
    char *runtime_dir;              /* per-VM sockets, console logs */
    char *cache_dir;                /* downloaded packages, build scratch; may be deleted */
    char *config_file;              /* the config file consulted; NULL when none could be
                                     * derived (user mode without HOME nor XDG_CONFIG_HOME) */
    bool config_file_loaded;        /* config_file existed and was read */
    enum bg_log_level log_level;    /* threshold for bg_log */
    uint64_t shutdown_timeout_s;    /* graceful shutdown budget, 1..300, default 10 */
    uint64_t body_max_bytes;        /* request body cap, 1024..1048576, default 65536 */
    uint64_t event_history;         /* events kept for replay, 100..1000000, default 10000 */
    uint64_t vm_default_vcpus;      /* vCPUs of a VM that names none, 1..32, default 2 */
    uint64_t vm_default_memory_mib; /* memory of a VM that names none, 128..65536, 1024 */
    uint64_t vm_default_disk_mib;   /* overlay size of a VM, 512..1048576, default 8192 */
    char vmm[16];                   /* "auto" (default), "qemu" or "firecracker" */
    char accel[16];                 /* QEMU: "auto" (default: KVM when usable), "kvm", "tcg" */
    char *firecracker_path;         /* the firecracker binary; NULL (default): "firecracker"
                                     * found in PATH */
    bool firecracker_kvm_check;     /* check /dev/kvm before choosing Firecracker (default
                                     * true); false where Firecracker reaches a KVM that
                                     * bangerd itself may not open */
    uint64_t http_connections_max;  /* open API connections, 4..65536, default 256 */
    uint64_t http_client_connections_max;   /* per client (peer process or address), 1..65536,
                                             * default 32 */
    uint64_t http_header_timeout_s;         /* to send a request's headers, 1..300, default 10 */
    uint64_t http_idle_timeout_s;           /* a kept-alive connection idles, 1..3600, default 60 */
    uint64_t console_max_bytes;             /* console log kept per VM, 65536..1073741824, 4 MiB */
    uint64_t operation_history;             /* ended operations kept, 10..1000000, default 1000 */
    char *install_file;                     /* the system install's install.toml (default
                                             * /etc/banger/install.toml): when it exists bangerd
                                             * uses the root helper it names (system mode) */
    char vm_default_image[BG_NAME_MAX + 1]; /* the image of a VM created without one, default
                                             * "default" */
    char *image_dev_packages;          /* packages the dev recipe adds to its own, space-separated
                                        * (the file may separate them with commas too); "" default */
    char *listen_tcp;                  /* "ADDR:PORT" of the TLS listener; NULL (default): none */
    char *tls_cert;                    /* its certificate (PEM, leaf first); NULL (default): the
                                        * one made in <state_dir>/tls/ at the first start */
    char *tls_key;                     /* its key; set together with tls_cert */
    char *tls_client_fingerprints;     /* SHA-256 fingerprints of the client certificates the
                                        * listener takes, normalised ("hex,hex"), at most
                                        * BG_CONFIG_FINGERPRINTS_MAX; NULL (default): none asked */
    char *doctor_root;                 /* the directory doctor reads the host under; NULL
                                        * (default): "/" (tests point it at a fake tree) */
    char *source[BG_CONFIG_KEY_COUNT]; /* per key: "default", "file:PATH:LINE", "env:NAME"
                                        * or "flag:--name"; owned */
};

/* Build the effective configuration from, lowest to highest: built-in defaults, the config
 * file, the environment (BANGERD_<KEY>), and the options of args (bg_config_args_parse).
 *
 * Mode and config file are resolved first, from flags (--system, --config) and environment
 * (BANGERD_MODE, BANGERD_CONFIG), because they choose which file is read. A `mode` in the
 * file then applies only when neither set one, and contradicting them is an error. Paths
 * left unset by every layer are derived from the final mode at the end, and the socket from
 * the final runtime_dir. A missing default config file is fine; a missing file named by
 * --config or BANGERD_CONFIG is -ENOENT. Empty environment values count as unset.
 *
 * env must not be NULL. cfg: caller's storage, overwritten; release it with bg_config_done(). On
 * failure it is left zeroed (bg_config_done() is still safe).
 * Returns 0, or -EINVAL (bad value, line, key, a config file that is not a regular file),
 * -ERANGE (number out of range), -ENOENT (explicit config file missing), -E2BIG (over-long
 * line) or another -errno from reading the file; err names the variable, or file:line and
 * key. */
int bg_config_load(struct bg_config *cfg, const struct bg_config_args *args,
                   const struct bg_config_env *env, struct bg_error *err);

/* Free what cfg owns and zero it. Accepts a zeroed or half-built cfg. */
void bg_config_done(struct bg_config *cfg);

/* The file/JSON name of key ("shutdown_timeout_s"), or NULL when out of range. */
const char *bg_config_key_name(enum bg_config_key key);

/* "user" or "system". */
const char *bg_config_mode_name(enum bg_config_mode mode);

/* {"<key>":{"value":<string|int|null>,"source":"..."}} for every key, for
 * GET /v1/system/info. Returns a new reference. */
json_t *bg_config_to_json(const struct bg_config *cfg);

/* The --help text: usage line, flags, environment variables; static storage. */
const char *bg_config_usage(void);
