/* SPDX-License-Identifier: MIT */
/* The VM watcher: a thread that notices VMM processes ending unasked and caps console logs. */
#pragma once

#include "banger/error.h"

struct bg_vm_runtime;

/* A running watcher. */
struct bg_vm_watch;

/* Start watching rt's running VMs twice a second: a VM whose VMM process is gone while it is
 * running is recorded failed, its reason naming the VMM's pid and the console's tail; every
 * running VM's console log is trimmed to the runtime's console_max_bytes. rt must outlive the
 * watcher. -errno when the thread cannot be started. */
int bg_vm_watch_start(struct bg_vm_runtime *rt, struct bg_vm_watch **ret, struct bg_error *err);

/* Stop and join the watcher, and free it. Accepts NULL. */
void bg_vm_watch_stop(struct bg_vm_watch *w);

#ifdef BANGER_TESTING
/* One pass of the watcher over rt, as the thread makes twice a second. */
void bg_vm_watch_pass(struct bg_vm_runtime *rt);
#endif
