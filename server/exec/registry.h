/* SPDX-License-Identifier: MIT */
/* The exec registry: every command run in a VM, kept a while after it ends, so a client that
 * lost its connection can still ask how it ended (GET /v1/execs/{id}). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "banger/error.h"
#include "banger/exec.h"

#define BG_EXEC_REGISTRY_MAX 1024   /* entries kept, running and ended together */
#define BG_EXEC_REGISTRY_KEEP_S 600 /* how long an ended exec stays visible */

struct bg_exec_registry;

/* Seconds since the epoch; injected so tests can move time. */
typedef int64_t (*bg_exec_clock_fn)(void);

/* A new, empty registry. clock NULL: the wall clock. */
struct bg_exec_registry *bg_exec_registry_new(bg_exec_clock_fn clock);
/* Free the registry and every entry. Accepts NULL. */
void bg_exec_registry_free(struct bg_exec_registry *r);

/* Record a command starting now in VM vm (argv NULL-terminated, copied). Writes the new id
 * into ret_id. Ended entries older than BG_EXEC_REGISTRY_KEEP_S are dropped first, then the
 * oldest ended ones while the registry is full. Returns 0, BG_ERR(BG_PROBLEM_TOO_MANY_EXECS)
 * when every slot holds a running command, or -ESHUTDOWN after bg_exec_registry_close. */
int bg_exec_registry_add(struct bg_exec_registry *r, const char *vm, char *const *argv,
                         char ret_id[BG_EXEC_ID_LEN + 1], struct bg_error *err);

/* Tie the client socket fd of a streaming exec to id, so bg_exec_registry_close can shut
 * it down; -1 unties it. The fd stays the caller's. */
void bg_exec_registry_set_fd(struct bg_exec_registry *r, const char *id, int fd);

/* Mark id ended now: exit_code >= 0 for a normal exit, signo > 0 when killed by a signal,
 * both "none" (-1, 0) when the outcome is unknown (the VM went away). */
void bg_exec_registry_finish(struct bg_exec_registry *r, const char *id, int exit_code, int signo);

/* The entry id as its JSON resource (new reference): {"id","vm","cmd","state","exit_code",
 * "signal","started_at","ended_at"}. Returns 0, or BG_ERR(BG_PROBLEM_EXEC_NOT_FOUND) (unknown
 * or expired). */
int bg_exec_registry_get(struct bg_exec_registry *r, const char *id, json_t **ret,
                         struct bg_error *err);

/* Shutdown: refuse new execs and shut down the sockets of every streaming one, so their
 * proxies end now. */
void bg_exec_registry_close(struct bg_exec_registry *r);
/* True once bg_exec_registry_close ran. */
bool bg_exec_registry_closed(struct bg_exec_registry *r);
