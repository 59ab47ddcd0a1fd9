/* SPDX-License-Identifier: MIT */
/* The daemon's shared state, handed to every request handler and job. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "auth/cert.h"
#include "auth/tokens.h"
#include "banger/install.h"
#include "core/config.h"
#include "core/events.h"
#include "core/jobs.h"
#include "exec/registry.h"
#include "http/http.h"
#include "rest/vmlist.h"
#include "root/client.h"
#include "store/store.h"
#include "tunnel/tunnel.h"
#include "vm/runtime.h"
#include "vm/watch.h"

struct bg_daemon {
    const struct bg_config *cfg;     /* effective configuration, borrowed */
    struct bg_store *store;          /* owned */
    struct bg_events *events;        /* owned; the store's event hook */
    struct bg_jobs *jobs;            /* owned; background operations */
    struct bg_vmlist *vmlist;        /* owned; cached GET /v1/vms body */
    struct bg_vm_runtime *runtime;   /* owned; running VMs and the chosen VMM (vm/runtime.h) */
    struct bg_vm_watch *watch;       /* owned; notices VMMs that end, caps consoles */
    struct bg_exec_registry *execs;  /* owned; recent and running execs */
    struct bg_tunnels *tunnels;      /* owned; running tunnels (tunnel/tunnel.h) */
    char *db_path;                   /* owned */
    int64_t started_at;              /* seconds since the epoch */
    struct bg_install install;       /* owned; the system install (zeroed in user mode) */
    struct bg_helper_client *helper; /* owned; the root helper in system mode, else NULL */
    struct bg_auth *auth;            /* owned; API tokens */
    struct bg_tls_identity tls;      /* the TCP listener's certificate; zeroed without one */
    char tcp_address[64];            /* the TCP listener as bound, "" without one */
};

/* The daemon a request of bangerd's API belongs to. */
static inline struct bg_daemon *bg_rest_daemon(const struct bg_http_request *req)
{
    return req->app;
}
