/* SPDX-License-Identifier: MIT */
/* Recipes of image build and the package lists of dev images. */
#include "image/recipe.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "banger/alloc.h"
#include "banger/utf8.h"
#include "banger/validate.h"

/* What the issue asks for, and the few tools a developer reaches for first in a shell
 * (ps and top, ip, less). mmdebstrap's minbase variant adds Debian's required packages
 * (mount, login, ...). */
const char *const bg_recipe_dev_base[] = {
    "build-essential", "ca-certificates", "curl",    "git", "iproute2", "less", "make",
    "openssh-server",  "procps",          "python3", NULL,
};

static const char *const names[BG_RECIPE_COUNT_] = {
    [BG_RECIPE_MINIMAL] = "minimal",
    [BG_RECIPE_DEV] = "dev",
};

const char *bg_recipe_name(enum bg_recipe r)
{
    return r < BG_RECIPE_COUNT_ ? names[r] : "?";
}

int bg_recipe_parse(const char *s, enum bg_recipe *ret, struct bg_error *err)
{
    for (int i = 0; i < BG_RECIPE_COUNT_; i++)
        if (s && !strcmp(s, names[i])) {
            *ret = (enum bg_recipe)i;
            return 0;
        }
    return bg_error_set(err, -EINVAL, "recipe '%s' is not one of dev, minimal",
                        BG_QUOTE(s ? s : ""));
}

int bg_pkglist_add(struct bg_pkglist *l, const char *name, const char *what, struct bg_error *err)
{
    int r = bg_package_validate(name, err);

    if (r < 0)
        return bg_error_prefix(err, r, "%s", what);
    l->names = bg_realloc(l->names, (l->n + 1) * sizeof(char *));
    l->names[l->n++] = bg_strdup(name);
    return 0;
}

int bg_pkglist_add_text(struct bg_pkglist *l, const char *text, const char *what,
                        struct bg_error *err)
{
    size_t count = 0;

    for (const char *p = text;;) {
        p += strspn(p, ", \t");
        if (!*p)
            return 0;
        size_t n = strcspn(p, ", \t");
        if (++count > BG_RECIPE_PACKAGES_MAX)
            return bg_error_set(err, -EINVAL, "%s: more than %d packages", what,
                                BG_RECIPE_PACKAGES_MAX);
        bg_autofree char *name = bg_strndup(p, n);
        int r = bg_pkglist_add(l, name, what, err);
        if (r < 0)
            return r;
        p += n;
    }
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void bg_pkglist_normalise(struct bg_pkglist *l)
{
    size_t out = 0;

    if (l->n == 0)
        return;
    qsort(l->names, l->n, sizeof(char *), cmp_names);
    for (size_t i = 0; i < l->n; i++) {
        if (out > 0 && !strcmp(l->names[out - 1], l->names[i])) {
            free(l->names[i]);
            continue;
        }
        l->names[out++] = l->names[i];
    }
    l->n = out;
}

char *bg_pkglist_join(const struct bg_pkglist *l, const char *sep)
{
    size_t len = 1;

    for (size_t i = 0; i < l->n; i++)
        len += strlen(l->names[i]) + strlen(sep);
    char *out = bg_malloc(len);
    out[0] = '\0';
    for (size_t i = 0; i < l->n; i++) {
        if (i)
            strcat(out, sep);
        strcat(out, l->names[i]);
    }
    return out;
}

bool bg_pkglist_has(const struct bg_pkglist *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->names[i], name))
            return true;
    return false;
}

void bg_pkglist_done(struct bg_pkglist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    l->names = NULL;
    l->n = 0;
}

int bg_recipe_dev_packages(const char *config_extra, const char *const *request, size_t n_request,
                           struct bg_pkglist *ret, struct bg_error *err)
{
    struct bg_pkglist l = {0};
    int r = 0;

    for (size_t i = 0; r >= 0 && bg_recipe_dev_base[i]; i++)
        r = bg_pkglist_add(&l, bg_recipe_dev_base[i], "recipe dev", err);
    if (r >= 0 && config_extra)
        r = bg_pkglist_add_text(&l, config_extra, "image_dev_packages", err);
    if (r >= 0 && n_request > BG_RECIPE_PACKAGES_MAX)
        r = bg_error_set(err, -EINVAL, "packages: more than %d packages", BG_RECIPE_PACKAGES_MAX);
    for (size_t i = 0; r >= 0 && i < n_request; i++)
        r = bg_pkglist_add(&l, request[i], "packages", err);
    if (r < 0) {
        bg_pkglist_done(&l);
        return r;
    }
    bg_pkglist_normalise(&l);
    *ret = l;
    return 0;
}
