/* SPDX-License-Identifier: MIT */
/* bangerd: parse the configuration, take the state directory, serve the API until told
 * to stop, then drain and close cleanly. */
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/gate.h"
#include "banger/alloc.h"
#include "banger/fingerprint.h"
#include "banger/log.h"
#include "banger/timefmt.h"
#include "banger/token.h"
#include "host/listen.h"
#include "http/http.h"
#include "image/record.h"
#include "rest/daemon.h"
#include "rest/handlers.h"
#include "vmm/firecracker/firecracker.h"
#include "vmm/qemu/qemu.h"
#include "workspace/git.h"

extern char **environ;

/* A route's scope as openapi.yaml's x-banger-scope writes it. */
static const char *scope_word(unsigned scope)
{
    return scope == 0 ? "local" : scope == BG_SCOPE_ANY ? "any" : bg_scope_name(scope);
}

/* "METHOD PATH" for every route (HEAD beside its GET), with " SCOPE" when with_scope. */
static void print_routes(bool with_scope)
{
    const struct bg_route *table;
    size_t n;

    bg_rest_routes(&table, &n);
    for (size_t i = 0; i < n; i++) {
        char path[256];
        const char *scope = scope_word(table[i].scope);
        (void)bg_route_public_path(&table[i], path, sizeof(path));
        printf("%s %s%s%s\n", table[i].method, path, with_scope ? " " : "",
               with_scope ? scope : "");
        if (bg_route_serves_head(&table[i]))
            printf("HEAD %s%s%s\n", path, with_scope ? " " : "", with_scope ? scope : "");
    }
}

/* The VMM drivers, in order of preference for vmm = "auto". */
static const struct bg_vmm_driver *const vmm_drivers[] = {&bg_vmm_firecracker, &bg_vmm_qemu};

static struct bg_vm_runtime *vm_runtime_new(const struct bg_config *cfg, struct bg_store *store)
{
    struct bg_vm_runtime_config c = {
        .store = store,
        .runtime_dir = cfg->runtime_dir,
        .state_dir = cfg->state_dir,
        .cache_dir = cfg->cache_dir,
        .vmm = cfg->vmm,
        .drivers = vmm_drivers,
        .n_drivers = BG_ARRAY_SIZE(vmm_drivers),
        .vmm_settings = {.accel = cfg->accel,
                         .firecracker_path = cfg->firecracker_path,
                         .firecracker_kvm_check = cfg->firecracker_kvm_check},
        .console_max_bytes = cfg->console_max_bytes,
    };

    return bg_vm_runtime_new(&c);
}

/* The VMs the store knows, as names for the helper's reconcile. */
static int vm_names(struct bg_store *store, char ***ret, size_t *ret_n, struct bg_error *err)
{
    struct bg_vm *vms = NULL;
    size_t n = 0;
    int r = bg_store_vm_list(store, NULL, &vms, &n, err);

    if (r < 0)
        return r;
    char **names = bg_calloc(n + 1, sizeof(*names));
    for (size_t i = 0; i < n; i++)
        names[i] = bg_strdup(vms[i].spec.name);
    free(vms);
    *ret = names;
    *ret_n = n;
    return 0;
}

/* System mode when install.toml exists: the root helper it names, told which VMs exist so it
 * drops the taps, NAT data and VMMs of VMs deleted while bangerd was down. A helper that does
 * not answer is a warning, not a failed start (user-mode VMs still work). */
static int helper_init(struct bg_daemon *d, const struct bg_config *cfg, struct bg_error *err)
{
    struct bg_helper_reply hello;
    struct bg_error e;
    char **names = NULL;
    size_t n = 0;
    uint32_t removed = 0, killed = 0;
    int r = bg_install_load(cfg->install_file, &d->install, err);

    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    d->helper = bg_helper_client_new(d->install.helper_socket);
    if (bg_helper_hello(d->helper, &hello, &e) < 0) {
        bg_log_warn("system install %s: %s", cfg->install_file, e.msg);
        return 0;
    }
    if ((r = vm_names(d->store, &names, &n, err)) < 0)
        return r;
    r = bg_helper_reconcile(d->helper, (const char *const *)names, n, &removed, &killed, &e);
    bg_strv_free(names);
    if (r < 0)
        bg_log_warn("system install: reconcile with the root helper: %s", e.msg);
    else
        bg_log_info("system install %s: root helper on '%s' (bridge %s %s); %u stray taps and "
                    "%u VMMs removed",
                    cfg->install_file, d->install.helper_socket, hello.bridge, hello.address,
                    removed, killed);
    return 0;
}

/* Open the store and everything that hangs off it. */
static int daemon_init(struct bg_daemon *d, const struct bg_config *cfg, struct bg_error *err)
{
    int64_t oldest, latest;
    int r;

    d->cfg = cfg;
    d->started_at = time(NULL);
    d->db_path = bg_asprintf("%s/state.db", cfg->state_dir);
    if ((r = bg_store_open(d->db_path, BG_STORE_READ_WRITE, &d->store, err)) < 0)
        return r;
    (void)bg_workspace_clones_sweep(cfg->state_dir);
    bg_store_set_event_history(d->store, (int64_t)cfg->event_history);
    bg_store_set_operation_history(d->store, (int64_t)cfg->operation_history);
    if ((r = bg_store_event_bounds(d->store, &oldest, &latest, err)) < 0 ||
        (r = bg_auth_new(d->store, cfg->state_dir, &d->auth, err)) < 0)
        return r;
    d->events = bg_events_new(latest);
    bg_store_set_event_hook(d->store, bg_events_notify, d->events);
    d->jobs = bg_jobs_new();
    d->vmlist = bg_vmlist_new();
    d->execs = bg_exec_registry_new(NULL);
    d->tunnels = bg_tunnels_new();
    d->runtime = vm_runtime_new(cfg, d->store);
    r = bg_image_recover(d->store, err);
    /* before serving: requests must see adopted VMs as running, dead ones as stopped */
    if (r >= 0)
        r = bg_vm_reconcile(d->runtime, err);
    if (r >= 0)
        r = helper_init(d, cfg, err);
    return r < 0 ? r : bg_vm_watch_start(d->runtime, &d->watch, err);
}

static void daemon_done(struct bg_daemon *d)
{
    bg_exec_registry_free(d->execs);
    bg_tunnels_free(d->tunnels);
    /* running VMs stay up; the next bangerd adopts them */
    bg_vm_watch_stop(d->watch);
    bg_vm_runtime_free(d->runtime);
    bg_vmlist_free(d->vmlist);
    bg_jobs_free(d->jobs);
    bg_store_close(d->store);
    bg_events_free(d->events);
    bg_helper_client_free(d->helper);
    bg_install_done(&d->install);
    bg_auth_free(d->auth);
    bg_tls_identity_done(&d->tls);
    free(d->db_path);
}

/* Block until SIGTERM or SIGINT (blocked in every thread, so only sigwait sees them). */
static int wait_for_signal(const sigset_t *set)
{
    int sig;
    while (sigwait(set, &sig) != 0)
        ;
    return sig;
}

/* The pinned client certificates of cfg ("hex,hex", already checked) into fps. */
static size_t client_fingerprints(const struct bg_config *cfg,
                                  uint8_t fps[BG_CONFIG_FINGERPRINTS_MAX][BG_FINGERPRINT_BYTES])
{
    size_t n = 0;

    for (const char *p = cfg->tls_client_fingerprints; p && *p && n < BG_CONFIG_FINGERPRINTS_MAX;
         n++) {
        size_t len = strcspn(p, ",");
        if (bg_fingerprint_parse(p, len, fps[n], NULL) < 0)
            break;
        p += len + (p[len] == ',');
    }
    return n;
}

/* The TLS listener, when listen_tcp is set: the certificate (made at the first start), the
 * gate, the socket, and a server of its own (its own connection bounds) over the same routes.
 * *ret_srv stays NULL without listen_tcp. */
static int serve_tcp(struct bg_daemon *d, const struct bg_http_config *base,
                     struct bg_http_tls *tls, struct bg_auth_gate **ret_gate,
                     struct bg_http_server **ret_srv, struct bg_error *err)
{
    const struct bg_config *cfg = d->cfg;
    uint8_t fps[BG_CONFIG_FINGERPRINTS_MAX][BG_FINGERPRINT_BYTES];
    char hex[BG_FINGERPRINT_HEX_MAX];
    int fd = -1, r;

    if (!cfg->listen_tcp)
        return 0;
    if ((r = bg_tls_identity_load(cfg->tls_cert, cfg->tls_key, cfg->state_dir, &d->tls, err)) < 0)
        return r;
    size_t n_fps = client_fingerprints(cfg, fps);
    *tls = (struct bg_http_tls){.cert_pem = d->tls.cert_pem,
                                .key_pem = d->tls.key_pem,
                                /* any PEM certificate makes GnuTLS ask for one; the gate
                                 * checks the fingerprint */
                                .trust_pem = n_fps ? d->tls.cert_pem : NULL};
    *ret_gate = bg_auth_gate_new(d->auth, (const uint8_t(*)[BG_FINGERPRINT_BYTES])fps, n_fps,
                                 &bg_auth_gate_limits);
    if ((r = bg_listen_tcp(cfg->listen_tcp, &fd, d->tcp_address, err)) < 0)
        return r;
    struct bg_http_config http = *base;
    http.tls = tls;
    http.authenticate = bg_auth_gate_check;
    http.auth_cls = *ret_gate;
    if ((r = bg_http_server_start(&http, fd, ret_srv, err)) < 0) {
        d->tcp_address[0] = '\0';
        return r;
    }
    bg_log_info("serve api over TLS 1.3 on %s (certificate %s%s, SHA-256 fingerprint %s; %zu "
                "pinned client certificates)",
                d->tcp_address, d->tls.cert_path, d->tls.created ? ", made now" : "",
                bg_fingerprint_format(d->tls.fingerprint, hex), n_fps);
    return 0;
}

static int serve(const struct bg_config *cfg, const sigset_t *signals, struct bg_error *err)
{
    struct bg_daemon d = {0};
    struct bg_http_server *srv = NULL, *tcp = NULL;
    struct bg_auth_gate *gate = NULL;
    struct bg_http_tls tls;
    bg_autoclose int lock_fd = -1;
    int listen_fd = -1;
    int r;

    if ((r = bg_state_lock(cfg->state_dir, &lock_fd, err)) < 0)
        return r;
    if ((r = daemon_init(&d, cfg, err)) < 0)
        goto done;
    if ((r = bg_listen_unix(cfg->socket, &listen_fd, err)) < 0)
        goto done;
    struct bg_http_config http = {
        .app = &d,
        .body_max_bytes = cfg->body_max_bytes,
        .connections_max = cfg->http_connections_max,
        .client_connections_max = cfg->http_client_connections_max,
        .header_timeout_s = (unsigned)cfg->http_header_timeout_s,
        .idle_timeout_s = (unsigned)cfg->http_idle_timeout_s,
    };
    bg_rest_routes(&http.routes, &http.n_routes);
    if ((r = bg_http_server_start(&http, listen_fd, &srv, err)) < 0)
        goto done;
    bg_log_info("serve api on '%s' (mode %s, state '%s', pid %d)", cfg->socket,
                bg_config_mode_name(cfg->mode), cfg->state_dir, (int)getpid());
    if ((r = serve_tcp(&d, &http, &tls, &gate, &tcp, err)) < 0) {
        bg_http_server_stop(srv, 0);
        (void)unlink(cfg->socket);
        goto done;
    }

    int sig = wait_for_signal(signals);
    int budget_ms = (int)cfg->shutdown_timeout_s * 1000;
    bg_log_info("stop: %s received; draining for up to %d ms", strsignal(sig), budget_ms);
    /* 503 from now on: a client whose stream ends below must not get a fresh answer */
    bg_http_server_quiesce(srv);
    bg_http_server_quiesce(tcp);
    bg_events_close(d.events);
    /* Exec streams and tunnels hold their connection threads; end them so the server can stop. */
    bg_exec_registry_close(d.execs);
    bg_tunnels_close(d.tunnels);
    int64_t stop_at = bg_now_ms() + budget_ms;
    bg_http_server_stop(tcp, budget_ms);
    bg_http_server_stop(srv, (int)(stop_at > bg_now_ms() ? stop_at - bg_now_ms() : 0));
    (void)unlink(cfg->socket);
    if (bg_jobs_cancel_wait(d.jobs, budget_ms) > 0) {
        /* A job still uses the store and the runtime: freeing them under it would be a
         * use-after-free. The process ends instead; SQLite keeps every committed change, and
         * the next start marks the job's operation failed. */
        bg_log_warn("stop: background jobs still running after %d ms; exiting without closing "
                    "the store (their operations are marked failed at the next start)",
                    budget_ms);
        return 0;
    }
done:
    bg_auth_gate_free(gate);
    daemon_done(&d);
    if (r == 0)
        bg_log_info("stop: done");
    return r;
}

int main(int argc, char **argv)
{
    struct bg_config_args args;
    struct bg_config cfg;
    struct bg_error err;
    struct bg_config_env env = {.envp = environ, .uid = getuid()};
    sigset_t signals;

    if (bg_config_args_parse(argc, argv, &args, &err) < 0) {
        fprintf(stderr, "bangerd: %s\n", err.msg);
        return 2;
    }
    switch (args.action) {
    case BG_CONFIG_ACTION_HELP:
        fputs(bg_config_usage(), stdout);
        return 0;
    case BG_CONFIG_ACTION_VERSION:
        printf("bangerd %s\n", BANGER_VERSION);
        return 0;
    case BG_CONFIG_ACTION_PRINT_ROUTES:
    case BG_CONFIG_ACTION_PRINT_SCOPES:
        print_routes(args.action == BG_CONFIG_ACTION_PRINT_SCOPES);
        return 0;
    case BG_CONFIG_ACTION_RUN:
        break;
    }
    if (bg_config_load(&cfg, &args, &env, &err) < 0) {
        fprintf(stderr, "bangerd: %s\n", err.msg);
        return 1;
    }
    bg_log_set_level(cfg.log_level);
    if (sodium_init() < 0) {
        bg_log_error("start: libsodium failed to initialise");
        return 1;
    }
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    int r = serve(&cfg, &signals, &err);
    if (r < 0)
        bg_log_error("start: %s", err.msg);
    bg_config_done(&cfg);
    return r < 0 ? 1 : 0;
}
