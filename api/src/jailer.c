/* SPDX-License-Identifier: MIT */
/* The jailer launch spec: validated parameters in, jailer argv and jail file layout out. */
#include "banger/jailer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banger/alloc.h"
#include "banger/validate.h"

static bool id_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-';
}

static int id_validate(const char *id, struct bg_error *err)
{
    size_t n = id ? strlen(id) : 0;

    if (n == 0 || n > BG_JAIL_ID_MAX)
        return bg_error_set(err, -EINVAL, "jail id must be 1 to %d characters", BG_JAIL_ID_MAX);
    for (size_t i = 0; i < n; i++)
        if (!id_char(id[i]))
            return bg_error_set(err, -EINVAL, "jail id '%s' may hold only letters, digits and '-'",
                                id);
    return 0;
}

static int path_check(const char *what, const char *path, struct bg_error *err)
{
    int r = bg_path_validate(path, err);

    if (r < 0)
        (void)bg_error_prefix(err, r, "%s", what);
    return r;
}

static bool cg_file_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.';
}

static bool cg_value_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           strchr(" _.:/-", ch) != NULL;
}

/* "file=value": a cgroup control file such as cpu.max (lowercase, digits, '_', with a '.') and
 * a value of letters, digits, space and "_.:/-". */
static int cgroup_validate(const char *cg, struct bg_error *err)
{
    const char *eq = strchr(cg, '=');
    size_t n = strlen(cg);

    if (n > BG_JAIL_CGROUP_MAX)
        return bg_error_set(err, -EINVAL, "cgroup entry is longer than %d bytes",
                            BG_JAIL_CGROUP_MAX);
    if (!eq || eq == cg || !eq[1] || !memchr(cg, '.', (size_t)(eq - cg)))
        return bg_error_set(err, -EINVAL, "cgroup entry '%s' is not file=value (e.g. cpu.max=...)",
                            cg);
    for (const char *c = cg; c < eq; c++)
        if (!cg_file_char(*c))
            return bg_error_set(err, -EINVAL, "cgroup entry '%s': bad file name", cg);
    for (const char *c = eq + 1; *c; c++)
        if (!cg_value_char(*c))
            return bg_error_set(err, -EINVAL, "cgroup entry '%s': bad value", cg);
    return 0;
}

static int params_validate(const struct bg_jail_params *p, struct bg_error *err)
{
    size_t n = 0;
    int r;

    if ((r = id_validate(p->id, err)) < 0)
        return r;
    if (p->uid == 0 || p->gid == 0)
        return bg_error_set(err, -EINVAL, "jail uid and gid must not be 0 (root)");
    if (p->jailer && (r = path_check("jailer binary", p->jailer, err)) < 0)
        return r;
    if ((r = path_check("chroot base dir", p->chroot_base, err)) < 0)
        return r;
    if (strcmp(p->chroot_base, "/") == 0)
        return bg_error_set(err, -EINVAL, "chroot base dir must not be '/'");
    if ((r = path_check("exec file", p->exec_file, err)) < 0)
        return r;
    if (p->exec_file[strlen(p->exec_file) - 1] == '/')
        return bg_error_set(err, -EINVAL, "exec file '%s' names a directory", p->exec_file);
    if (p->netns && (r = path_check("netns", p->netns, err)) < 0)
        return r;
    if (p->cgroup_version != 1 && p->cgroup_version != 2)
        return bg_error_set(err, -EINVAL, "cgroup version must be 1 or 2, not %u",
                            p->cgroup_version);
    for (; p->cgroups && p->cgroups[n]; n++) {
        if (n == BG_JAIL_CGROUPS_MAX)
            return bg_error_set(err, -EINVAL, "more than %d cgroup entries", BG_JAIL_CGROUPS_MAX);
        if ((r = cgroup_validate(p->cgroups[n], err)) < 0)
            return r;
    }
    return 0;
}

static int disks_validate(const struct bg_jail_disks *l, struct bg_error *err)
{
    const char *what[] = {"kernel", "initrd", "rootfs", "overlay", "work disk"};
    const char *path[] = {l->kernel, l->initrd, l->rootfs, l->overlay, l->workdisk};
    int r;

    if (!l->kernel)
        return bg_error_set(err, -EINVAL, "launch has no kernel");
    if (!l->overlay)
        return bg_error_set(err, -EINVAL, "launch has no overlay disk");
    for (size_t i = 0; i < BG_ARRAY_SIZE(path); i++)
        if (path[i] && (r = path_check(what[i], path[i], err)) < 0)
            return r;
    return 0;
}

static void argv_add(char **argv, size_t *n, const char *s)
{
    argv[(*n)++] = bg_strdup(s);
}

static char **make_argv(const struct bg_jail_params *p)
{
    char **argv = bg_calloc(BG_JAIL_ARGV_MAX + 1, sizeof(*argv));
    char num[24];
    size_t n = 0;

    argv_add(argv, &n, p->jailer ? p->jailer : "jailer");
    argv_add(argv, &n, "--id");
    argv_add(argv, &n, p->id);
    argv_add(argv, &n, "--exec-file");
    argv_add(argv, &n, p->exec_file);
    argv_add(argv, &n, "--uid");
    snprintf(num, sizeof(num), "%lu", (unsigned long)p->uid);
    argv_add(argv, &n, num);
    argv_add(argv, &n, "--gid");
    snprintf(num, sizeof(num), "%lu", (unsigned long)p->gid);
    argv_add(argv, &n, num);
    argv_add(argv, &n, "--chroot-base-dir");
    argv_add(argv, &n, p->chroot_base);
    if (p->cgroup_version == 2) {
        argv_add(argv, &n, "--cgroup-version");
        argv_add(argv, &n, "2");
    }
    for (size_t i = 0; p->cgroups && p->cgroups[i]; i++) {
        argv_add(argv, &n, "--cgroup");
        argv_add(argv, &n, p->cgroups[i]);
    }
    if (p->netns) {
        argv_add(argv, &n, "--netns");
        argv_add(argv, &n, p->netns);
    }
    /* Firecracker's own arguments; jailer adds --id and the start-time ones itself. */
    argv_add(argv, &n, "--");
    argv_add(argv, &n, "--api-sock");
    argv_add(argv, &n, BG_JAIL_API_SOCK);
    return argv;
}

static void add_file(struct bg_jail_spec *s, const char *host, const char *name, bool writable)
{
    struct bg_jail_file *f = &s->files[s->n_files++];

    f->host_path = bg_strdup(host);
    f->jail_path = bg_strdup(name);
    f->path = bg_asprintf("%s/%s", s->root, name);
    f->mode = writable ? 0600 : 0444;
    f->chown = writable;
    f->link = writable ? BG_JAIL_LINK_HARD : BG_JAIL_LINK_HARD_OR_COPY;
}

int bg_jail_spec_build(const struct bg_jail_disks *l, const struct bg_jail_params *p,
                       struct bg_jail_spec *ret, struct bg_error *err)
{
    struct bg_jail_spec s = {0};
    const char *base, *exec_name;
    size_t blen;
    int r;

    if ((r = params_validate(p, err)) < 0 || (r = disks_validate(l, err)) < 0)
        return r;
    exec_name = strrchr(p->exec_file, '/') + 1;
    /* "/srv/jailer/" and "/srv/jailer" name the same base: no "//" in the layout. */
    base = p->chroot_base;
    blen = strlen(base);
    if (base[blen - 1] == '/')
        blen--;
    s.root = bg_asprintf("%.*s/%s/%s/root", (int)blen, base, exec_name, p->id);
    s.api_sock = bg_asprintf("%s%s", s.root, BG_JAIL_API_SOCK);
    s.pid_file = bg_asprintf("%s/%s.pid", s.root, exec_name);
    s.argv = make_argv(p);
    add_file(&s, l->kernel, "vmlinux", false);
    if (l->initrd)
        add_file(&s, l->initrd, "initrd", false);
    if (l->rootfs)
        add_file(&s, l->rootfs, "rootfs", false);
    add_file(&s, l->overlay, "overlay", true);
    if (l->workdisk)
        add_file(&s, l->workdisk, "work", true);
    *ret = s;
    return 0;
}

void bg_jail_spec_done(struct bg_jail_spec *s)
{
    for (size_t i = 0; s->argv && s->argv[i]; i++)
        free(s->argv[i]);
    free(s->argv);
    free(s->root);
    free(s->api_sock);
    free(s->pid_file);
    for (size_t i = 0; i < s->n_files; i++) {
        free(s->files[i].host_path);
        free(s->files[i].path);
        free(s->files[i].jail_path);
    }
    memset(s, 0, sizeof(*s));
}
