/* SPDX-License-Identifier: MIT */
/* The dev recipe's rootfs: mirror check and cache key, mmdebstrap, ext4, the cache. */
#include "image/rootfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "banger/timefmt.h"
#include "banger/utf8.h"
#include "host/fileio.h"
#include "host/sha256.h"
#include "image/aptsrc.h"
#include "image/ext4.h"
#include "image/files.h"
#include "image/mmdeb.h"

#define SOURCES_LIST "/etc/apt/sources.list"
#define SOURCES_PARTS "/etc/apt/sources.list.d"
#define APT_HELPER "/usr/lib/apt/apt-helper"
#define PROGRESS_MS 250 /* least time between two progress records of mmdebstrap's step */
#define META_MAX 65536  /* bytes of a cache entry's .json */

static const char mirror_hint[] = "check that the package mirror of the host's apt sources is "
                                  "reachable";

struct bg_imagebuild_rootfs {
    struct bg_mmdeb_progress prog;
    int log_fd;      /* mmdebstrap's output is kept here */
    int64_t last_ms; /* when progress was last recorded */
};

/* ---- the mirror ---- */

/* apt's rule for the files of sources.list.d: [A-Za-z0-9_.-] names ending in .list or
 * .sources. */
static bool sources_part(const char *name)
{
    size_t n = strlen(name);

    if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n)
        return false;
    return (n > 5 && !strcmp(name + n - 5, ".list")) ||
           (n > 8 && !strcmp(name + n - 8, ".sources"));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int parse_file(struct bg_aptsrc *src, const char *path, struct bg_error *err)
{
    bg_autofree char *text = NULL;
    int r = bg_imagebuild_read_text(path, &text, err);

    if (r == -ENOENT)
        return 0;
    return r < 0 ? r : bg_aptsrc_parse(src, path, text, err);
}

/* The host's Debian 12 entries: sources.list, then sources.list.d in name order (as apt). */
static int read_sources(struct bg_aptsrc *src, struct bg_error *err)
{
    char **names = NULL;
    size_t n = 0;
    int r = parse_file(src, SOURCES_LIST, err);
    DIR *dir = r >= 0 ? opendir(SOURCES_PARTS) : NULL;
    struct dirent *de;

    while (dir && (de = readdir(dir))) {
        if (!sources_part(de->d_name))
            continue;
        names = bg_realloc(names, (n + 1) * sizeof(char *));
        names[n++] = bg_asprintf("%s/%s", SOURCES_PARTS, de->d_name);
    }
    if (dir)
        closedir(dir);
    if (n)
        qsort(names, n, sizeof(char *), cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (r >= 0)
            r = parse_file(src, names[i], err);
        free(names[i]);
    }
    free(names);
    if (r >= 0 && src->n == 0)
        r = bg_error_set(err, -ENOENT,
                         "the host's apt sources (" SOURCES_LIST ", " SOURCES_PARTS
                         ") name no Debian 12 (" BG_APTSRC_CODENAME
                         ") mirror, and a dev image is made from the mirror the host uses; add "
                         "one, for example 'deb http://deb.debian.org/debian " BG_APTSRC_CODENAME
                         " main' in " SOURCES_PARTS "/debian.list");
    return r;
}

/* Fetch each suite's InRelease (small, and changed whenever anything in the suite changed) into
 * the scratch directory; ctx gets their hashes, *ret_epoch the newest Date. */
static int check_mirror(struct bg_imagebuild *b, const struct bg_aptsrc *src,
                        crypto_hash_sha256_state *ctx, int64_t *ret_epoch, struct bg_error *err)
{
    int64_t epoch = 0;

    for (size_t i = 0; i < src->n; i++) {
        bg_autofree char *url = bg_aptsrc_inrelease_url(src, i);
        bg_autofree char *dest = bg_asprintf("%s/InRelease-%zu", b->tmp, i);
        bg_autofree char *text = NULL;
        const char *argv[] = {APT_HELPER, "download-file", url, dest, NULL};
        char hex[BG_SHA256_HEX_MAX];
        struct bg_run_result run;
        int64_t date;
        int r = bg_imagebuild_run_ok(b, argv, b->tmp, -1, &run, mirror_hint, err);

        if (r < 0)
            return r;
        bg_run_result_done(&run);
        if ((r = bg_sha256_file(dest, hex, NULL, err)) < 0 ||
            (r = bg_imagebuild_read_text(dest, &text, err)) < 0)
            return r;
        if ((r = bg_aptsrc_release_date(text, &date, err)) < 0)
            return bg_error_prefix(err, r, "%s", url);
        bg_autofree char *line = bg_asprintf("%s %s\n", url, hex);
        crypto_hash_sha256_update(ctx, (const unsigned char *)line, strlen(line));
        epoch = date > epoch ? date : epoch;
    }
    *ret_epoch = epoch;
    return 0;
}

/* The versions of the programs that make the bytes. */
static int tool_versions(struct bg_imagebuild *b, crypto_hash_sha256_state *ctx,
                         struct bg_error *err)
{
    const char *mm[] = {"mmdebstrap", "--version", NULL};
    const char *mkfs[] = {"mkfs.ext4", "-V", NULL};
    struct bg_run_result run;
    int r;

    if ((r = bg_imagebuild_run_ok(b, mm, NULL, -1, &run, NULL, err)) < 0)
        return r;
    crypto_hash_sha256_update(ctx, (const unsigned char *)run.out, run.out_len);
    bg_run_result_done(&run);
    if ((r = bg_imagebuild_run_ok(b, mkfs, NULL, -1, &run, NULL, err)) < 0)
        return r;
    crypto_hash_sha256_update(ctx, (const unsigned char *)run.err, run.err_len);
    bg_run_result_done(&run);
    return 0;
}

/* ---- the cache ---- */

/* What a build of one key left in <cache_dir>/rootfs. */
struct entry {
    char *dir;                     /* <cache_dir>/rootfs */
    char *image, *meta, *packages; /* KEY.ext4, KEY.json, KEY.packages */
    char key[BG_SHA256_HEX_MAX];
    char sha256[BG_SHA256_HEX_MAX]; /* of the image, from the .json */
    uint64_t size;
};

static void entry_done(struct entry *e)
{
    free(e->dir);
    free(e->image);
    free(e->meta);
    free(e->packages);
}

static void entry_init(struct entry *e, const char *cache_dir, const unsigned char digest[32])
{
    memset(e, 0, sizeof(*e));
    sodium_bin2hex(e->key, sizeof(e->key), digest, 32);
    e->dir = bg_asprintf("%s/rootfs", cache_dir);
    e->image = bg_asprintf("%s/%s.ext4", e->dir, e->key);
    e->meta = bg_asprintf("%s/%s.json", e->dir, e->key);
    e->packages = bg_asprintf("%s/%s.packages", e->dir, e->key);
}

/* Whether the cache holds e: the image, its .json naming its size and hash, its packages. */
static bool entry_found(struct entry *e)
{
    bg_autofree char *text = NULL;
    struct stat st;
    size_t len;

    if (stat(e->image, &st) < 0 || !S_ISREG(st.st_mode) || access(e->packages, R_OK) < 0 ||
        bg_file_read(e->meta, META_MAX, &text, &len, NULL) < 0)
        return false;
    json_t *j = json_loads(text, 0, NULL);
    const char *sha = json_string_value(json_object_get(j, "sha256"));
    json_int_t size = json_integer_value(json_object_get(j, "size_bytes"));
    bool ok = sha && strlen(sha) == BG_SHA256_HEX_LEN &&
              strspn(sha, "0123456789abcdef") == BG_SHA256_HEX_LEN && size == st.st_size;
    if (ok) {
        memcpy(e->sha256, sha, BG_SHA256_HEX_MAX);
        e->size = (uint64_t)size;
    }
    json_decref(j);
    return ok;
}

/* Write text to path through a temporary file and rename. */
static int write_atomic(const char *path, const char *text, const char *tag, struct bg_error *err)
{
    bg_autofree char *tmp = bg_asprintf("%s.%s", path, tag);
    bg_autoclose int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    size_t len = strlen(text);

    if (fd < 0)
        return bg_error_errno(err, "create '%s'", tmp);
    for (size_t done = 0; done < len;) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno != EINTR)
            return bg_error_errno(err, "write '%s'", tmp);
        done += w > 0 ? (size_t)w : 0;
    }
    if (fsync(fd) < 0 || rename(tmp, path) < 0)
        return bg_error_errno(err, "write '%s'", path);
    return 0;
}

/* ---- mmdebstrap ---- */

static void mm_output(void *cls, int stream, const char *buf, size_t n)
{
    struct bg_imagebuild *b = cls;
    struct bg_imagebuild_rootfs *rs = b->rootfs;
    enum bg_mmdeb_phase before = rs->prog.phase;

    (void)stream;
    if (rs->log_fd >= 0 && write(rs->log_fd, buf, n) < 0)
        rs->log_fd = -1; /* the log is for humans; the build goes on without it */
    bg_mmdeb_feed(&rs->prog, buf, n);
    if (!rs->prog.changed)
        return;
    int64_t now = bg_now_ms();
    if (rs->prog.phase == before && now - rs->last_ms < PROGRESS_MS)
        return;
    rs->prog.changed = false;
    rs->last_ms = now;
    const char *phase = bg_mmdeb_phase_name(rs->prog.phase);
    switch (rs->prog.phase) {
    case BG_MMDEB_PHASE_DOWNLOAD:
        bg_imagebuild_step_count(b, rs->prog.bytes_done, rs->prog.bytes_total, "bytes",
                                 "rootfs: %s", phase);
        break;
    case BG_MMDEB_PHASE_UNPACK:
        bg_imagebuild_step_count(b, rs->prog.unpacked, rs->prog.pkgs_total, "packages",
                                 "rootfs: %s", phase);
        break;
    case BG_MMDEB_PHASE_CONFIGURE:
        bg_imagebuild_step_count(b, rs->prog.configured, rs->prog.pkgs_total, "packages",
                                 "rootfs: %s", phase);
        break;
    default:
        bg_imagebuild_step_count(b, 0, 0, "", "rootfs: %s", phase);
        break;
    }
}

/* Move the .debs of from that to lacks into to (same file system), so the next build finds
 * them; what cannot be moved is only logged. */
static void keep_debs(const char *from, const char *to)
{
    DIR *dir = opendir(from);
    struct dirent *de;

    while (dir && (de = readdir(dir))) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".deb") != 0 || de->d_name[0] == '.')
            continue;
        bg_autofree char *src = bg_asprintf("%s/%s", from, de->d_name);
        bg_autofree char *dst = bg_asprintf("%s/%s", to, de->d_name);
        if (access(dst, F_OK) != 0 && rename(src, dst) < 0)
            bg_log_warn("keep %s in the package cache: %s", de->d_name, strerror(errno));
    }
    if (dir)
        closedir(dir);
}

static int run_mmdebstrap(struct bg_imagebuild *b, enum bg_mmdeb_mode mode, const char *sources,
                          int64_t epoch, const char *tar, struct bg_error *err)
{
    bg_autofree char *debs_in = bg_asprintf("%s/rootfs-debs", b->ctx.cache_dir);
    bg_autofree char *debs_out = bg_asprintf("%s/debs-out", b->tmp);
    bg_autofree char *include = bg_pkglist_join(&b->packages, ",");
    bg_autofree char *log = bg_asprintf("%s/" BG_ROOTFS_LOG_FILE, b->imgdir);
    bg_autofree char *sde = bg_asprintf("SOURCE_DATE_EPOCH=%lld", (long long)epoch);
    /* unshare mode as a user: its temporary root belongs to subordinate ids, which must reach
     * it (bangerd's cache is the user's alone) */
    bg_autofree char *tmpdir =
        bg_asprintf("TMPDIR=%s", mode == BG_MMDEB_MODE_ROOT ? b->tmp : "/var/tmp");
    struct bg_mmdeb_plan plan = {.suite = BG_APTSRC_CODENAME,
                                 .sources = sources,
                                 .include = include,
                                 .debs_in = debs_in,
                                 .debs_out = debs_out,
                                 .output = tar};
    struct bg_imagebuild_rootfs rs = {.log_fd = -1};
    const char *env[] = {sde, tmpdir, NULL};
    struct bg_run_result run;
    int r;

    if ((r = bg_mkdir_p(debs_in, 0755, err)) < 0 || (r = bg_mkdir_p(debs_out, 0755, err)) < 0)
        return r;
    char **argv = bg_mmdeb_argv(&plan);
    bg_autofree char *hint = bg_asprintf("mmdebstrap's output is in %s; %s", log, mirror_hint);
    /* cwd "/": in a user namespace the subordinate ids cannot enter bangerd's directories */
    struct bg_imagebuild_cmd c = {.argv = (const char *const *)argv,
                                  .cwd = "/",
                                  .out_fd = -1,
                                  .env = env,
                                  .on_output = mm_output,
                                  .hint = hint};
    rs.log_fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    b->rootfs = &rs;
    r = bg_imagebuild_run(b, &c, &run, err);
    b->rootfs = NULL;
    if (rs.log_fd >= 0)
        (void)close(rs.log_fd);
    bg_strv_free(argv);
    if (r < 0)
        return r;
    bg_run_result_done(&run);
    bg_log_info("build image '%s': mmdebstrap done, %llu bytes downloaded", b->img.name,
                (unsigned long long)rs.prog.bytes_fetched);
    keep_debs(debs_out, debs_in);
    return 0;
}

/* ---- ext4 ---- */

/* The UUID-shaped text of 16 bytes of hex (32 digits). */
static void uuid_of(const char *hex, char out[37])
{
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

static int make_ext4(struct bg_imagebuild *b, struct entry *e, const char *tar, int64_t epoch,
                     struct bg_error *err)
{
    bg_autofree char *tree = bg_asprintf("%s/tree", b->tmp);
    bg_autofree char *status = bg_asprintf("%s/var/lib/dpkg/status", tree);
    bg_autofree char *tmp_image = bg_asprintf("%s.%s", e->image, b->op.id);
    bg_autofree char *fake = bg_asprintf("E2FSPROGS_FAKE_TIME=%lld", (long long)epoch);
    bg_autofree char *status_text = NULL, *installed = NULL, *meta = NULL;
    struct bg_ext4_tree t = {0};
    char uuid[37], seed[37];
    struct bg_run_result run;
    int r;

    uuid_of(e->key, uuid);
    uuid_of(e->key + 32, seed);
    if ((r = bg_mkdir_p(tree, 0700, err)) < 0 || (r = bg_mkdir_p(e->dir, 0755, err)) < 0)
        return r;
    if ((r = bg_ext4_unpack(tar, tree, NULL, NULL, &t, err)) < 0)
        return bg_error_prefix(err, r, "unpack the rootfs");
    (void)unlink(tar);
    if ((r = bg_imagebuild_read_text(status, &status_text, err)) < 0)
        goto out;
    installed = bg_aptsrc_dpkg_installed(status_text);
    char **argv = bg_ext4_mkfs_argv(tree, tmp_image, bg_ext4_size_mib(&t), &t, uuid, seed);
    const char *env[] = {fake, NULL};
    struct bg_imagebuild_cmd c = {.argv = (const char *const *)argv, .out_fd = -1, .env = env};
    r = bg_imagebuild_run(b, &c, &run, err);
    bg_strv_free(argv);
    if (r < 0)
        goto out;
    bg_run_result_done(&run);
    if ((r = bg_ext4_stamp(tmp_image, &t, epoch, err)) < 0 ||
        (r = bg_sha256_file(tmp_image, e->sha256, &e->size, err)) < 0)
        goto out;
    meta = bg_asprintf(
        "{\"sha256\": \"%s\", \"size_bytes\": %llu, \"source_date_epoch\": %lld, \"packages\": "
        "\"%s\", \"entries\": %zu}\n",
        e->sha256, (unsigned long long)e->size, (long long)epoch, b->img.packages, t.n);
    if ((r = write_atomic(e->packages, installed, b->op.id, err)) < 0)
        goto out;
    if (rename(tmp_image, e->image) < 0) {
        r = bg_error_errno(err, "rename '%s'", tmp_image);
        goto out;
    }
    r = write_atomic(e->meta, meta, b->op.id, err);
out:
    (void)unlink(tmp_image);
    (void)bg_rm_tree(tree, NULL);
    bg_ext4_tree_done(&t);
    return r;
}

/* ---- into the image ---- */

/* The cache's image as the image's own file: a hard link when both are on one file system
 * (the image is never written: VMs attach it read-only), else a copy. */
static int install(struct bg_imagebuild *b, const struct entry *e, struct bg_error *err)
{
    bg_autofree char *dst = bg_asprintf("%s/" BG_ROOTFS_FILE, b->imgdir);
    bg_autofree char *tmp = bg_asprintf("%s.tmp", dst);
    bg_autofree char *pkgs = bg_asprintf("%s/" BG_ROOTFS_PACKAGES_FILE, b->imgdir);
    bg_autofree char *pkgs_text = NULL;
    int r;

    (void)unlink(tmp);
    if (link(e->image, tmp) < 0) {
        if (errno != EXDEV && errno != EPERM && errno != EMLINK)
            return bg_error_errno(err, "link '%s' to '%s'", e->image, tmp);
        if ((r = bg_imagebuild_copy_sparse(e->image, tmp, err)) < 0)
            return r;
    }
    if (rename(tmp, dst) < 0)
        return bg_error_errno(err, "rename '%s'", tmp);
    if ((r = bg_imagebuild_read_text(e->packages, &pkgs_text, err)) < 0 ||
        (r = write_atomic(pkgs, pkgs_text, "tmp", err)) < 0)
        return r;
    struct bg_image_file *f = &b->img.files[BG_IMAGE_ROOTFS];
    free(f->path);
    f->path = bg_steal_ptr(&dst);
    f->size_bytes = e->size;
    memcpy(f->sha256, e->sha256, sizeof(f->sha256));
    return 0;
}

int bg_imagebuild_rootfs_check(struct bg_error *err)
{
    struct bg_aptsrc src = {0};
    struct bg_mmdeb_host host;
    bg_autofree char *keep = NULL;
    enum bg_mmdeb_mode mode;
    int r;

    bg_mmdeb_host_probe(&host, &keep);
    if ((r = bg_mmdeb_choose(&host, &mode, err)) >= 0)
        r = read_sources(&src, err);
    bg_aptsrc_done(&src);
    return r;
}

int bg_imagebuild_rootfs(struct bg_imagebuild *b, unsigned first, struct bg_error *err)
{
    struct bg_aptsrc src = {0};
    struct bg_mmdeb_host host;
    bg_autofree char *keep = NULL, *sources = NULL, *head = NULL;
    bg_autofree char *tar = bg_asprintf("%s/rootfs.tar", b->tmp);
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state ctx;
    enum bg_mmdeb_mode mode;
    struct entry e = {0};
    int64_t epoch = 0;
    int r;

    bg_imagebuild_step(b, first, "check the package mirror");
    bg_mmdeb_host_probe(&host, &keep);
    if ((r = bg_mmdeb_choose(&host, &mode, err)) < 0 || (r = read_sources(&src, err)) < 0)
        goto out;
    sources = bg_aptsrc_format(&src);
    /* the key: everything that decides the image's bytes */
    crypto_hash_sha256_init(&ctx);
    head = bg_asprintf("banger rootfs " BG_ROOTFS_FORMAT "\n%s\n%s\n", b->img.packages, sources);
    crypto_hash_sha256_update(&ctx, (const unsigned char *)head, strlen(head));
    if ((r = check_mirror(b, &src, &ctx, &epoch, err)) < 0 || (r = tool_versions(b, &ctx, err)) < 0)
        goto out;
    crypto_hash_sha256_final(&ctx, digest);
    entry_init(&e, b->ctx.cache_dir, digest);
    if (entry_found(&e)) {
        bg_imagebuild_step(b, first + 2, "rootfs: in the cache (%.12s)", e.key);
        bg_log_info("build image '%s': rootfs %s from the cache", b->img.name, e.key);
    } else {
        bg_imagebuild_step(b, first + 1, "rootfs: mmdebstrap (%s)",
                           mode == BG_MMDEB_MODE_ROOT ? "as root" : "in a user namespace");
        if ((r = run_mmdebstrap(b, mode, sources, epoch, tar, err)) < 0)
            goto out;
        bg_imagebuild_step(b, first + 2, "rootfs: ext4");
        if ((r = make_ext4(b, &e, tar, epoch, err)) < 0)
            goto out;
    }
    r = install(b, &e, err);
out:
    bg_aptsrc_done(&src);
    entry_done(&e);
    return r;
}
