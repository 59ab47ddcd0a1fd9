/* SPDX-License-Identifier: MIT */
/* What `image build` makes: the recipes (minimal: kernel and busybox initramfs; dev: the same
 * plus a Debian 12 rootfs with a toolchain) and the package list a dev image installs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "banger/error.h"

enum bg_recipe {
    BG_RECIPE_MINIMAL, /* the kernel and banger's busybox initramfs, no rootfs */
    BG_RECIPE_DEV,     /* the same kernel and initramfs, and a Debian rootfs (mmdebstrap) */
    BG_RECIPE_COUNT_,
};

#define BG_RECIPE_DEFAULT BG_RECIPE_DEV /* what `image build` makes when it is not told */
#define BG_RECIPE_PACKAGES_MAX 64       /* extra packages one request or the config may add */

/* The packages every dev image has, in this order. */
extern const char *const bg_recipe_dev_base[];

/* "minimal", "dev". */
const char *bg_recipe_name(enum bg_recipe r);
/* The recipe named s; -EINVAL with err listing the recipes. */
int bg_recipe_parse(const char *s, enum bg_recipe *ret, struct bg_error *err);

/* A list of package names, owned. */
struct bg_pkglist {
    char **names; /* each checked with bg_package_validate, owned */
    size_t n;
};

/* Add the names of text, separated by commas or blanks ("a,b c"), to l; each name is checked,
 * and more than BG_RECIPE_PACKAGES_MAX in text is refused. what names the source in messages
 * ("image_dev_packages"). Returns 0 or -EINVAL; l keeps what was added before a refusal. */
int bg_pkglist_add_text(struct bg_pkglist *l, const char *text, const char *what,
                        struct bg_error *err);
/* Add one name, checked. */
int bg_pkglist_add(struct bg_pkglist *l, const char *name, const char *what, struct bg_error *err);
/* Sort l by name and drop repeats, so that the same set gives the same list. */
void bg_pkglist_normalise(struct bg_pkglist *l);
/* The names joined by sep ("," for mmdebstrap's --include, " " for the image record). */
char *bg_pkglist_join(const struct bg_pkglist *l, const char *sep);
/* Whether l holds name. */
bool bg_pkglist_has(const struct bg_pkglist *l, const char *name);
void bg_pkglist_done(struct bg_pkglist *l);

/* The full, normalised package list of a dev image: bg_recipe_dev_base, then config_extra
 * (the image_dev_packages setting, may be NULL) and the request's names (request, n_request).
 * Returns 0 or -EINVAL naming the bad name and where it came from. */
int bg_recipe_dev_packages(const char *config_extra, const char *const *request, size_t n_request,
                           struct bg_pkglist *ret, struct bg_error *err);
