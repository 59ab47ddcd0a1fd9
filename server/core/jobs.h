/* SPDX-License-Identifier: MIT */
/* Background jobs: detached threads the daemon counts, cancels and waits for on shutdown. */
#pragma once

#include <stdbool.h>

#include "banger/error.h"

struct bg_jobs;

struct bg_jobs *bg_jobs_new(void);
/* Frees the tracker; call bg_jobs_cancel_wait() first. Accepts NULL. */
void bg_jobs_free(struct bg_jobs *j);

/* Run fn(arg) on a new thread. On failure fn is not run and arg stays the caller's. */
int bg_jobs_spawn(struct bg_jobs *j, void (*fn)(void *arg), void *arg, struct bg_error *err);
/* True once shutdown began: a job should stop at its next step and record why. */
bool bg_jobs_cancelled(struct bg_jobs *j);
/* Ask every job to stop and wait up to timeout_ms for all of them. Returns how many are
 * still running. */
int bg_jobs_cancel_wait(struct bg_jobs *j, int timeout_ms);
