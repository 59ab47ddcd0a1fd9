/* SPDX-License-Identifier: MIT */
/* mmdebstrap for dev images: which mode works for bangerd's user (and what to do when none
 * does), its argv, and the progress its output tells. Pure; the build runs it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "banger/error.h"

#define BG_MMDEB_SUBIDS_MIN 65536 /* subordinate ids unshare mode needs: Debian's go to 65534 */
#define BG_MMDEB_LINE_MAX 1024    /* bytes of one output line looked at; the rest is dropped */

/* mmdebstrap always runs in its unshare mode, so that whatever it mounts goes with its
 * namespaces, even when it is killed; what that mode needs depends on the user. */
enum bg_mmdeb_mode {
    BG_MMDEB_MODE_ROOT,    /* bangerd is root: a mount and PID namespace, no id mapping */
    BG_MMDEB_MODE_UNSHARE, /* an ordinary user: a user namespace over subordinate ids */
};

/* What the host offers, gathered by the caller (bg_mmdeb_host_probe) so that the choice is
 * pure and testable. Strings borrowed. */
struct bg_mmdeb_host {
    uid_t euid;                    /* bangerd's effective uid */
    const char *user;              /* its name ("" when it has none) */
    bool have_mmdebstrap;          /* mmdebstrap is installed */
    bool have_newuidmap;           /* newuidmap and newgidmap (package uidmap) */
    const char *subuid;            /* /etc/subuid's content; NULL when it cannot be read */
    const char *subgid;            /* /etc/subgid's content; NULL likewise */
    long max_user_namespaces;      /* /proc/sys/user/max_user_namespaces; -1: not there */
    long userns_clone;             /* /proc/sys/kernel/unprivileged_userns_clone; -1: none */
    long apparmor_restrict_userns; /* /proc/sys/kernel/apparmor_restrict_unprivileged_userns */
};

/* The count of subordinate ids the first range of text (/etc/subuid format:
 * "NAME_OR_UID:START:COUNT" lines) gives to user or uid, 0 when none. Malformed lines are
 * skipped, as newuidmap does. */
uint64_t bg_mmdeb_subid_count(const char *text, const char *user, uid_t uid);

/* How mmdebstrap can run for h: as root when euid is 0, else in a user namespace when
 * everything that needs is there. Otherwise -EPERM (-ENOENT without mmdebstrap) with err saying,
 * doctor-style, each missing piece and the exact command that provides it. */
int bg_mmdeb_choose(const struct bg_mmdeb_host *h, enum bg_mmdeb_mode *ret, struct bg_error *err);

/* Fill h from this host: the files and sysctls above, PATH lookups, the user's name. Strings
 * in h point into *ret_keep (free it after h). */
void bg_mmdeb_host_probe(struct bg_mmdeb_host *h, char **ret_keep);

/* One mmdebstrap run. Strings borrowed. */
struct bg_mmdeb_plan {
    const char *suite;    /* "bookworm" */
    const char *sources;  /* one-line sources, one per line (bg_aptsrc_format) */
    const char *include;  /* --include: the packages, comma-separated */
    const char *debs_in;  /* a directory of cached .debs synced in (may be empty) */
    const char *debs_out; /* where the .debs the run used are synced out */
    const char *output;   /* the tarball to write */
};

/* argv of mmdebstrap for p, NULL-terminated, owned (bg_strv_free); each sources line is an
 * argument of its own (mmdebstrap writes them to the image's sources.list). Hooks: the package
 * cache in and out; the sshd host keys removed (each VM makes its own), apt's partial directories
 * given to _apt in every mode, and /etc/resolv.conf, /etc/hostname and /etc/hosts made the same on
 * every host (the agent writes the VM's own at boot).
 */
char **bg_mmdeb_argv(const struct bg_mmdeb_plan *p);

/* Where a run is, from the lines it prints. */
enum bg_mmdeb_phase {
    BG_MMDEB_PHASE_SETUP,
    BG_MMDEB_PHASE_UPDATE,    /* apt-get update */
    BG_MMDEB_PHASE_DOWNLOAD,  /* fetching .debs: bytes */
    BG_MMDEB_PHASE_EXTRACT,   /* the essential packages unpacked */
    BG_MMDEB_PHASE_UNPACK,    /* dpkg unpacking: packages */
    BG_MMDEB_PHASE_CONFIGURE, /* dpkg setting up: packages */
    BG_MMDEB_PHASE_CUSTOMIZE, /* hooks */
    BG_MMDEB_PHASE_PACK,      /* the tarball */
    BG_MMDEB_PHASE_COUNT_,
};

struct bg_mmdeb_progress {
    enum bg_mmdeb_phase phase;
    uint64_t bytes_done, bytes_total; /* of the current download; total 0 when not known */
    uint64_t bytes_fetched;           /* over the whole run */
    unsigned unpacked, configured;    /* packages of the current round (apt's "N newly
                                       * installed" starts one) unpacked, set up */
    unsigned pkgs_total;              /* the round's packages */
    bool changed;                     /* set by a line that moved any of the above */
    char line[BG_MMDEB_LINE_MAX + 1]; /* a line being assembled by bg_mmdeb_feed */
    size_t line_len;
    bool line_cut; /* the line went past BG_MMDEB_LINE_MAX */
};

/* For humans: "download packages", "install packages", ... */
const char *bg_mmdeb_phase_name(enum bg_mmdeb_phase ph);

/* Account for one line of mmdebstrap's output (without its newline). */
void bg_mmdeb_progress_line(struct bg_mmdeb_progress *p, const char *line);

/* Account for a chunk of output, as read from the pipe: whole lines go to
 * bg_mmdeb_progress_line; a partial one waits for the rest. */
void bg_mmdeb_feed(struct bg_mmdeb_progress *p, const char *buf, size_t n);

/* An apt size, "37.6 kB", "2053 kB", "1.5 MB", "512 B", as bytes; -EINVAL when it is not one. */
int bg_mmdeb_size_parse(const char *s, uint64_t *ret);
