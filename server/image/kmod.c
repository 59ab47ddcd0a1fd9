/* SPDX-License-Identifier: MIT */
/* Kernel modules for the initrd: .modinfo ELF parsing, modules.dep resolution and writing. */
#include "image/kmod.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "host/fileio.h"
#include "image/files.h"

#define KO_MAX (64u << 20) /* bytes of one kernel module read for its .modinfo */
#define WALK_DEPTH_MAX 12  /* directory levels under lib/modules/VER/kernel */

const char *const bg_imagebuild_modules[] = {
    "virtio_ring",
    "virtio",
    "virtio_mmio",
    "virtio_blk",
    "virtio_console",
    "virtio_net",
    "vsock",
    "vmw_vsock_virtio_transport_common",
    "vmw_vsock_virtio_transport",
    "overlay",
    NULL,
};

/* Section header i of elf, or NULL when it lies outside the file. */
static const Elf64_Shdr *section(const unsigned char *elf, size_t len, const Elf64_Ehdr *eh,
                                 unsigned i)
{
    uint64_t off = eh->e_shoff + (uint64_t)i * sizeof(Elf64_Shdr);

    if (i >= eh->e_shnum || off > len || len - off < sizeof(Elf64_Shdr))
        return NULL;
    return (const Elf64_Shdr *)(elf + off);
}

static bool in_file(const Elf64_Shdr *sh, size_t len)
{
    return sh->sh_type != SHT_NOBITS && sh->sh_offset <= len && sh->sh_size <= len - sh->sh_offset;
}

/* The .modinfo section's bytes, or NULL. */
static const char *find_modinfo(const unsigned char *elf, size_t len, size_t *ret_size)
{
    Elf64_Ehdr eh;

    if (len < sizeof(eh))
        return NULL;
    memcpy(&eh, elf, sizeof(eh));
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_shentsize != sizeof(Elf64_Shdr) ||
        eh.e_shoff % 8 != 0)
        return NULL;
    const Elf64_Shdr *strtab = section(elf, len, &eh, eh.e_shstrndx);
    if (!strtab || !in_file(strtab, len))
        return NULL;
    for (unsigned i = 0; i < eh.e_shnum; i++) {
        const Elf64_Shdr *sh = section(elf, len, &eh, i);
        if (!sh || sh->sh_name >= strtab->sh_size || !in_file(sh, len))
            continue;
        const char *name = (const char *)elf + strtab->sh_offset + sh->sh_name;
        size_t room = strtab->sh_size - sh->sh_name;
        if (strnlen(name, room) < room && !strcmp(name, ".modinfo")) {
            *ret_size = sh->sh_size;
            return (const char *)elf + sh->sh_offset;
        }
    }
    return NULL;
}

int bg_imagebuild_modinfo_depends(const void *elf, size_t len, char **ret, struct bg_error *err)
{
    size_t size = 0;
    const char *info = find_modinfo(elf, len, &size);

    if (!info)
        return bg_error_set(err, -ENOEXEC,
                            "not a 64-bit little-endian ELF kernel module with a "
                            ".modinfo section");
    /* NUL-separated "key=value" strings, possibly with padding NULs between them. */
    for (size_t off = 0; off < size;) {
        const char *s = info + off;
        size_t n = strnlen(s, size - off);
        if (n > 8 && !strncmp(s, "depends=", 8)) {
            *ret = bg_strndup(s + 8, n - 8);
            return 0;
        }
        off += n + 1;
    }
    *ret = bg_strdup("");
    return 0;
}

char *bg_imagebuild_module_name(const char *path, char *buf, size_t len)
{
    const char *base = strrchr(path, '/');
    const char *ko;

    base = base ? base + 1 : path;
    ko = strstr(base, ".ko");
    snprintf(buf, len, "%.*s", (int)(ko ? ko - base : (ptrdiff_t)strlen(base)), base);
    for (char *p = buf; *p; p++)
        if (*p == '-')
            *p = '_';
    return buf;
}

/* ---- module dependency order ---- */

struct moddep {
    char *path;    /* borrowed from the parsed copy */
    char *deps;    /* space-separated paths, borrowed */
    char name[64]; /* normalised */
    int mark;      /* 0 unseen, 1 on the current path, 2 placed */
};

struct modorder {
    struct moddep *mods;
    size_t n;
    char **out; /* NULL-terminated */
    size_t out_n;
};

static void modorder_done(struct modorder *o)
{
    free(o->mods);
    for (size_t i = 0; o->out && i < o->out_n; i++)
        free(o->out[i]);
    free(o->out);
}

/* Split text (modified in place) into entries. */
static int moddep_parse(char *text, struct modorder *o, struct bg_error *err)
{
    size_t cap = 0, line_no = 0;
    char *save = NULL;

    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        char *colon = strchr(line, ':');
        if (!line[strspn(line, " \t\r")])
            continue;
        if (!colon || colon == line || memchr(line, ' ', (size_t)(colon - line)))
            return bg_error_set(err, -EINVAL, "modules.dep line %zu is not 'PATH: DEPS'", line_no);
        if (o->n == cap) {
            cap = cap ? cap * 2 : 256;
            o->mods = bg_realloc(o->mods, cap * sizeof(*o->mods));
        }
        *colon = '\0';
        struct moddep *m = &o->mods[o->n++];
        m->path = line;
        m->deps = colon + 1;
        m->mark = 0;
        bg_imagebuild_module_name(line, m->name, sizeof(m->name));
    }
    return 0;
}

static struct moddep *by_path(struct modorder *o, const char *path)
{
    for (size_t i = 0; i < o->n; i++)
        if (!strcmp(o->mods[i].path, path))
            return &o->mods[i];
    return NULL;
}

static struct moddep *by_name(struct modorder *o, const char *name)
{
    for (size_t i = 0; i < o->n; i++)
        if (!strcmp(o->mods[i].name, name))
            return &o->mods[i];
    return NULL;
}

/* Depth-first: every dependency placed before m. */
static int place(struct modorder *o, struct moddep *m, unsigned depth, struct bg_error *err)
{
    char *save = NULL;

    if (m->mark == 2)
        return 0;
    if (m->mark == 1)
        return bg_error_set(err, -ELOOP, "modules.dep has a dependency cycle through '%s'",
                            m->name);
    if (depth > BG_IMAGEBUILD_MODULES_MAX)
        return bg_error_set(err, -E2BIG, "dependencies of '%s' nest deeper than %d", m->name,
                            BG_IMAGEBUILD_MODULES_MAX);
    m->mark = 1;
    for (char *d = strtok_r(m->deps, " \t\r", &save); d; d = strtok_r(NULL, " \t\r", &save)) {
        struct moddep *dep = by_path(o, d);
        if (!dep)
            return bg_error_set(err, -ENOENT,
                                "module '%s' needs '%s', which modules.dep does "
                                "not list",
                                m->name, d);
        int r = place(o, dep, depth + 1, err);
        if (r < 0)
            return r;
    }
    m->mark = 2;
    if (o->out_n == BG_IMAGEBUILD_MODULES_MAX)
        return bg_error_set(err, -E2BIG, "more than %d modules needed", BG_IMAGEBUILD_MODULES_MAX);
    o->out[o->out_n++] = bg_strdup(m->path);
    return 0;
}

static bool is_builtin(const char *builtin, const char *name)
{
    char buf[64];
    const char *p = builtin;

    while (p && *p) {
        size_t n = strcspn(p, "\n");
        bg_autofree char *line = bg_strndup(p, n);
        if (!strcmp(bg_imagebuild_module_name(line, buf, sizeof(buf)), name))
            return true;
        p += n + (p[n] == '\n');
    }
    return false;
}

int bg_imagebuild_modules_order(const char *modules_dep, const char *builtin,
                                const char *const *wanted, char ***ret_paths, size_t *ret_n,
                                struct bg_error *err)
{
    bg_autofree char *text = bg_strdup(modules_dep);
    struct modorder o = {.out = bg_calloc(BG_IMAGEBUILD_MODULES_MAX + 1, sizeof(char *))};
    int r = moddep_parse(text, &o, err);

    for (const char *const *w = wanted; r >= 0 && *w; w++) {
        char name[64];
        bg_imagebuild_module_name(*w, name, sizeof(name));
        struct moddep *m = by_name(&o, name);
        if (m)
            r = place(&o, m, 0, err);
        else if (!is_builtin(builtin, name))
            r = bg_error_set(err, -ENOENT,
                             "kernel module '%s' is in neither modules.dep nor "
                             "modules.builtin",
                             name);
    }
    if (r < 0) {
        modorder_done(&o);
        return r;
    }
    *ret_paths = bg_steal_ptr(&o.out);
    *ret_n = o.out_n;
    o.out_n = 0;
    modorder_done(&o);
    return 0;
}

/* ---- kernel modules ---- */

struct kmod {
    char name[64]; /* normalised */
    char *rel;     /* path under lib/modules/VERSION, owned */
};

struct kmods {
    struct kmod *v;
    size_t n, cap;
};

static void kmods_done(struct kmods *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->v[i].rel);
    free(k->v);
}

static bool ko_name(const char *name)
{
    static const char *const suffixes[] = {".ko", ".ko.xz", ".ko.zst", ".ko.gz"};
    size_t n = strlen(name);

    for (size_t i = 0; i < BG_ARRAY_SIZE(suffixes); i++) {
        size_t sn = strlen(suffixes[i]);
        if (n > sn && !strcmp(name + n - sn, suffixes[i]))
            return true;
    }
    return false;
}

/* Every module file under moddir/rel, recursively. */
static int walk(const char *moddir, const char *rel, unsigned depth, struct kmods *k,
                struct bg_error *err)
{
    bg_autofree char *path = bg_asprintf("%s/%s", moddir, rel);
    DIR *dir = opendir(path);
    struct dirent *de;
    struct stat st;
    int r = 0;

    if (!dir)
        return bg_error_errno(err, "open '%s'", path);
    while (r >= 0 && (de = readdir(dir))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
            fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        bg_autofree char *sub = bg_asprintf("%s/%s", rel, de->d_name);
        if (S_ISDIR(st.st_mode) && depth < WALK_DEPTH_MAX) {
            r = walk(moddir, sub, depth + 1, k, err);
        } else if (S_ISREG(st.st_mode) && ko_name(de->d_name)) {
            if (k->n == k->cap) {
                k->cap = k->cap ? k->cap * 2 : 512;
                k->v = bg_realloc(k->v, k->cap * sizeof(*k->v));
            }
            bg_imagebuild_module_name(sub, k->v[k->n].name, sizeof(k->v[k->n].name));
            k->v[k->n++].rel = bg_steal_ptr(&sub);
        }
    }
    closedir(dir);
    return r;
}

static const struct kmod *kmod_find(const struct kmods *k, const char *name)
{
    for (size_t i = 0; i < k->n; i++)
        if (!strcmp(k->v[i].name, name))
            return &k->v[i];
    return NULL;
}

int bg_imagebuild_plain_module(struct bg_imagebuild *b, const char *moddir, const char *rel,
                               char **ret, struct bg_error *err)
{
    static const char *const tools[][2] = {{".xz", "xz"}, {".zst", "zstd"}, {".gz", "gzip"}};
    size_t n = strlen(rel);
    char name[64];

    for (size_t i = 0; i < BG_ARRAY_SIZE(tools); i++) {
        size_t sn = strlen(tools[i][0]);
        if (n <= sn || strcmp(rel + n - sn, tools[i][0]) != 0)
            continue;
        bg_autofree char *src = bg_asprintf("%s/%s", moddir, rel);
        bg_autofree char *dir = bg_asprintf("%s/ko", b->tmp);
        bg_autofree char *dst =
            bg_asprintf("%s/%s.ko", dir, bg_imagebuild_module_name(rel, name, sizeof(name)));
        const char *argv[] = {tools[i][1], "-dc", "--", src, NULL};
        struct bg_run_result run;
        int r = bg_mkdir_p(dir, 0700, err);
        bg_autoclose int fd =
            r < 0 ? -1 : open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (r >= 0 && fd < 0)
            r = bg_error_errno(err, "create '%s'", dst);
        if (r < 0 || (r = bg_imagebuild_run_ok(b, argv, NULL, fd, &run, NULL, err)) < 0)
            return r;
        bg_run_result_done(&run);
        *ret = bg_steal_ptr(&dst);
        return 0;
    }
    *ret = bg_asprintf("%s/%s", moddir, rel);
    return 0;
}

/* "REL: DEP DEP" for one module, read from its .modinfo. */
static int moddep_line(struct bg_imagebuild *b, const char *moddir, const struct kmods *k,
                       const struct kmod *m, char **text, char ***queue, size_t *qn,
                       struct bg_error *err)
{
    bg_autofree char *file = NULL, *elf = NULL, *deps = NULL;
    char *save = NULL;
    size_t len;
    int r;

    if ((r = bg_imagebuild_plain_module(b, moddir, m->rel, &file, err)) < 0 ||
        (r = bg_file_read(file, KO_MAX, &elf, &len, err)) < 0)
        return r;
    if ((r = bg_imagebuild_modinfo_depends(elf, len, &deps, err)) < 0)
        return bg_error_prefix(err, r, "module '%s'", m->rel);
    char *line = bg_asprintf("%s%s:", *text, m->rel);
    for (char *d = strtok_r(deps, ",", &save); d; d = strtok_r(NULL, ",", &save)) {
        char name[64];
        const struct kmod *dep = kmod_find(k, bg_imagebuild_module_name(d, name, sizeof(name)));
        if (!dep) {
            free(line);
            return bg_error_set(err, -ENOENT,
                                "module '%s' needs '%s', which the kernel package "
                                "lacks",
                                m->name, d);
        }
        char *next = bg_asprintf("%s %s", line, dep->rel);
        free(line);
        line = next;
        if (*qn < BG_IMAGEBUILD_MODULES_MAX * 2)
            (*queue)[(*qn)++] = bg_strdup(dep->name);
    }
    free(*text);
    *text = bg_asprintf("%s\n", line);
    free(line);
    return 0;
}

/* Debian's package ships no modules.dep (depmod makes it when the package is installed), so
 * write the part banger needs from the modules' own .modinfo "depends=" entries. */
static int make_moddep(struct bg_imagebuild *b, const char *moddir, char **ret,
                       struct bg_error *err)
{
    struct kmods k = {0};
    char **queue = bg_calloc(BG_IMAGEBUILD_MODULES_MAX * 2, sizeof(char *));
    char *text = bg_strdup("");
    size_t qn = 0;
    int r = walk(moddir, "kernel", 0, &k, err);

    for (const char *const *w = bg_imagebuild_modules; *w; w++)
        queue[qn++] = bg_strdup(*w);
    for (size_t i = 0; r >= 0 && i < qn; i++) {
        const struct kmod *m = kmod_find(&k, queue[i]);
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = !strcmp(queue[j], queue[i]);
        if (m && !seen)
            r = moddep_line(b, moddir, &k, m, &text, &queue, &qn, err);
    }
    for (size_t i = 0; i < qn; i++)
        free(queue[i]);
    free(queue);
    kmods_done(&k);
    if (r < 0) {
        free(text);
        return r;
    }
    *ret = text;
    return 0;
}

int bg_imagebuild_module_order(struct bg_imagebuild *b, const char *moddir, char ***ret_paths,
                               size_t *ret_n, struct bg_error *err)
{
    bg_autofree char *dep_path = bg_asprintf("%s/modules.dep", moddir);
    bg_autofree char *builtin_path = bg_asprintf("%s/modules.builtin", moddir);
    bg_autofree char *dep = NULL, *builtin = NULL;
    struct bg_error ignored;
    int r;

    if (access(dep_path, F_OK) == 0)
        r = bg_imagebuild_read_text(dep_path, &dep, err);
    else
        r = make_moddep(b, moddir, &dep, err);
    if (r < 0)
        return r;
    if (bg_imagebuild_read_text(builtin_path, &builtin, &ignored) < 0)
        builtin = NULL;
    return bg_imagebuild_modules_order(dep, builtin, bg_imagebuild_modules, ret_paths, ret_n, err);
}
