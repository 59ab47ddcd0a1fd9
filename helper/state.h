/* SPDX-License-Identifier: MIT */
/* What bangerd-root made and still owns, recorded in <helper_state_dir>/helper.json so a
 * restarted helper finds it: the taps (per VM), the guests of the NAT table, the VMMs it
 * launched. Opened beneath the state dir (openat2 RESOLVE_BENEATH, no symlinks), written
 * through a temporary file and rename, so a crash leaves the old record or the new one. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "banger/error.h"
#include "banger/helperproto.h"

#define BG_HSTATE_FILE "helper.json"

struct bg_hstate_tap {
    char vm[BG_NAME_MAX + 1];
    char tap[BG_HELPER_TAP_LEN + 1];
};

struct bg_hstate_vmm {
    char vm[BG_NAME_MAX + 1];
    pid_t pid;
    uint64_t start_time;
};

/* The records; each list holds at most BG_HELPER_VMS_MAX entries. */
struct bg_hstate {
    int dirfd;                  /* the state dir, O_PATH | O_DIRECTORY */
    bool bridge;                /* the bridge was ensured */
    struct bg_hstate_tap *taps; /* n_taps */
    size_t n_taps;
    struct bg_helper_guest *guests; /* the NAT table's data, n_guests */
    size_t n_guests;
    struct bg_hstate_vmm *vmms; /* n_vmms */
    size_t n_vmms;
};

/* Create dir (0700, root's) when missing, open it and read its record into *ret (empty when
 * there is none). -EINVAL with err for a record that does not decode: the helper then refuses
 * to start rather than forget what it owns. */
int bg_hstate_open(const char *dir, struct bg_hstate *ret, struct bg_error *err);

/* Write s to the record (temp file, fsync, rename). */
int bg_hstate_save(const struct bg_hstate *s, struct bg_error *err);

/* Decode a record's text (len bytes) into *ret (dirfd untouched). For tests and the fuzzer. */
int bg_hstate_decode(const char *text, size_t len, struct bg_hstate *ret, struct bg_error *err);

/* Free what s owns (closing dirfd) and zero it. */
void bg_hstate_done(struct bg_hstate *s);

/* The tap record of vm, or NULL. */
struct bg_hstate_tap *bg_hstate_tap_find(struct bg_hstate *s, const char *vm);
/* Add (vm, tap); -ENOSPC at the cap. */
int bg_hstate_tap_add(struct bg_hstate *s, const char *vm, const char *tap, struct bg_error *err);
/* Remove the tap record of vm (if any). */
void bg_hstate_tap_remove(struct bg_hstate *s, const char *vm);

/* Add a launched VMM; -ENOSPC at the cap. */
int bg_hstate_vmm_add(struct bg_hstate *s, const char *vm, pid_t pid, uint64_t start_time,
                      struct bg_error *err);
/* Remove the VMM record at index i. */
void bg_hstate_vmm_remove(struct bg_hstate *s, size_t i);

/* Replace the NAT guests with a copy of guests (n). */
void bg_hstate_guests_set(struct bg_hstate *s, const struct bg_helper_guest *guests, size_t n);
