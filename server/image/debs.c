/* SPDX-License-Identifier: MIT */
/* Debian packages for image builds: Depends and --print-uris parsing, download into the cache. */
#include "image/debs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "banger/parse.h"
#include "banger/utf8.h"
#include "host/fileio.h"
#include "host/sha256.h"

/* ---- pure parsing ---- */

static bool pkg_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '+' || ch == '.' ||
           ch == '-';
}

static bool version_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           strchr(".+~:-", ch) != NULL;
}

static bool all_chars(const char *s, size_t n, bool (*ok)(char))
{
    for (size_t i = 0; i < n; i++)
        if (!ok(s[i]))
            return false;
    return n > 0;
}

static bool kernel_pkg(const char *s, size_t n)
{
    static const char pre[] = "linux-image-", suf[] = "-cloud-amd64";
    size_t lp = sizeof(pre) - 1, ls = sizeof(suf) - 1;

    return n > lp + ls && !strncmp(s, pre, lp) && !strncmp(s + n - ls, suf, ls) &&
           !(n == strlen(BG_IMAGEBUILD_META_PACKAGE) && !strncmp(s, BG_IMAGEBUILD_META_PACKAGE, n));
}

/* One alternative, "name (= version)" or "name"; sets *ret_* when it is the kernel package. */
static int depends_alt(const char *alt, char **ret_pkg, char **ret_version, struct bg_error *err)
{
    const char *p = alt + strspn(alt, " \t");
    size_t n = strcspn(p, " \t(");
    const char *rel = strchr(p + n, '(');

    if (!all_chars(p, n, pkg_char)) {
        bg_autofree char *name = bg_strndup(p, n);
        return bg_error_set(err, -EINVAL, "Depends names '%s', not a package name", BG_QUOTE(name));
    }
    if (!kernel_pkg(p, n))
        return 0;
    bg_autofree char *version = bg_strdup("");
    if (rel && rel[1] == '=' && rel[2] == ' ') {
        const char *v = rel + 3;
        size_t vn = strcspn(v, ")");
        if (v[vn] != ')' || !all_chars(v, vn, version_char)) {
            bg_autofree char *name = bg_strndup(p, n);
            return bg_error_set(err, -EINVAL, "Depends has a malformed version for '%s'",
                                BG_QUOTE(name));
        }
        free(version);
        version = bg_strndup(v, vn);
    }
    *ret_pkg = bg_strndup(p, n);
    *ret_version = bg_steal_ptr(&version);
    return 1;
}

int bg_imagebuild_kernel_depends(const char *depends, char **ret_pkg, char **ret_version,
                                 struct bg_error *err)
{
    bg_autofree char *copy = bg_strdup(depends);
    char *save = NULL;

    for (char *alt = strtok_r(copy, ",|\n", &save); alt; alt = strtok_r(NULL, ",|\n", &save)) {
        if (!alt[strspn(alt, " \t")])
            continue;
        int r = depends_alt(alt, ret_pkg, ret_version, err);
        if (r != 0)
            return r < 0 ? r : 0;
    }
    return bg_error_set(err, -EINVAL,
                        "%s names no linux-image-*-cloud-amd64 package in its "
                        "Depends ('%s')",
                        BG_IMAGEBUILD_META_PACKAGE, BG_QUOTE(depends));
}

static bool file_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           strchr(".+~%_:-", ch) != NULL;
}

/* The hex digits of a "SHA256:HEX" token into ret_sha256; "" for another hash. */
static int uri_hash(const char *tok, char ret_sha256[BG_SHA256_HEX_LEN + 1], struct bg_error *err)
{
    if (strncmp(tok, "SHA256:", 7) != 0) {
        ret_sha256[0] = '\0';
        return 0;
    }
    tok += 7;
    if (strlen(tok) != BG_SHA256_HEX_LEN || strspn(tok, "0123456789abcdef") != BG_SHA256_HEX_LEN)
        return bg_error_set(err, -EINVAL, "apt-get printed a malformed SHA256 '%s'", BG_QUOTE(tok));
    memcpy(ret_sha256, tok, BG_SHA256_HEX_LEN + 1);
    return 0;
}

int bg_imagebuild_uri_parse(const char *line, char **ret_file, uint64_t *ret_size,
                            char ret_sha256[BG_SHA256_HEX_LEN + 1], struct bg_error *err)
{
    const char *end = line[0] == '\'' ? strchr(line + 1, '\'') : NULL;
    char *tok[3], *save = NULL;
    uint64_t size;
    int r;

    if (!end || end[1] != ' ')
        return bg_error_set(err, -EINVAL, "apt-get printed '%s', not 'URI' FILE SIZE HASH",
                            BG_QUOTE(line));
    bg_autofree char *rest = bg_strdup(end + 2);
    tok[0] = strtok_r(rest, " ", &save);
    tok[1] = tok[0] ? strtok_r(NULL, " ", &save) : NULL;
    tok[2] = tok[1] ? strtok_r(NULL, " \n", &save) : NULL;
    if (!tok[2] || strtok_r(NULL, " \n", &save))
        return bg_error_set(err, -EINVAL, "apt-get printed '%s', not 'URI' FILE SIZE HASH",
                            BG_QUOTE(line));
    size_t n = strlen(tok[0]);
    if (tok[0][0] == '.' || n < 5 || strcmp(tok[0] + n - 4, ".deb") != 0 ||
        !all_chars(tok[0], n, file_char))
        return bg_error_set(err, -EINVAL, "apt-get named the file '%s', not a .deb name",
                            BG_QUOTE(tok[0]));
    if (bg_parse_u64(tok[1], 1, UINT64_C(1) << 40, &size, err) < 0)
        return bg_error_set(err, -EINVAL, "apt-get printed the size '%s' for '%s'",
                            BG_QUOTE(tok[1]), tok[0]);
    if ((r = uri_hash(tok[2], ret_sha256, err)) < 0)
        return r;
    *ret_file = bg_strdup(tok[0]);
    *ret_size = size;
    return 0;
}

/* ---- packages ---- */

static const char mirror_hint[] = "run 'apt-get update' as root and check that the package mirror "
                                  "is reachable";

static int print_uris(struct bg_imagebuild *b, const char *spec, char **ret_file,
                      uint64_t *ret_size, char sha[BG_SHA256_HEX_LEN + 1], struct bg_error *err)
{
    const char *argv[] = {"apt-get", "-q", "download", "--print-uris", spec, NULL};
    struct bg_run_result run;
    /* In the scratch directory, which never holds the .deb: where the file already is, apt
     * prints nothing. */
    int r = bg_imagebuild_run_ok(b, argv, b->tmp, -1, &run, mirror_hint, err);

    if (r < 0)
        return r;
    char *line = strchr(run.out, '\'');
    if (!line) {
        bg_run_result_done(&run);
        return bg_error_set(err, -EIO, "apt-get download --print-uris %s printed no URI; %s", spec,
                            mirror_hint);
    }
    line[strcspn(line, "\n")] = '\0';
    r = bg_imagebuild_uri_parse(line, ret_file, ret_size, sha, err);
    bg_run_result_done(&run);
    return r;
}

/* The open file fd is a regular file of size bytes whose sha256 is sha ("": not checked). */
static bool fd_matches(int fd, const char *path, uint64_t size, const char *sha)
{
    char got[BG_SHA256_HEX_LEN + 1];
    uint64_t got_size;
    struct stat st;

    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != size)
        return false;
    return !*sha || (bg_sha256_fd(fd, path, NULL, got, &got_size, NULL) == 0 && got_size == size &&
                     !strcmp(got, sha));
}

/* The cache holds path with the size and hash apt expects. */
static bool cached(const char *path, uint64_t size, const char *sha)
{
    bg_autoclose int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

    return fd >= 0 && fd_matches(fd, path, size, sha);
}

/* apt-get download spec into <b->tmp>/download, check the file it leaves, and rename it into the
 * cache as path. Only this build writes there, and the rename is atomic, so a build sharing the
 * cache never sees a partial or unchecked file; two builds fetching one package at once both
 * rename the same bytes. A file torn by a crash is caught by cached() and fetched again. */
static int download(struct bg_imagebuild *b, const char *spec, const char *file, uint64_t size,
                    const char *sha, const char *path, struct bg_error *err)
{
    bg_autofree char *dir = bg_asprintf("%s/download", b->tmp);
    bg_autofree char *got = bg_asprintf("%s/%s", dir, file);
    const char *argv[] = {"apt-get", "-q", "download", spec, NULL};
    struct bg_run_result run;
    bg_autoclose int fd = -1;
    int r = bg_mkdir_p(dir, 0700, err);

    if (r < 0 || (r = bg_imagebuild_run_ok(b, argv, dir, -1, &run, mirror_hint, err)) < 0)
        return r;
    bg_run_result_done(&run);
    fd = open(got, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 || !fd_matches(fd, got, size, sha))
        return bg_error_set(err, -EIO,
                            "apt-get download %s did not leave '%s' with %llu bytes and the "
                            "expected sha256",
                            spec, got, (unsigned long long)size);
    if (rename(got, path) < 0)
        return bg_error_errno(err, "rename '%s' to '%s'", got, path);
    return 0;
}

/* Make sure the .deb of spec ("pkg" or "pkg=version") is in the cache; *ret_path is its path. */
static int fetch_deb(struct bg_imagebuild *b, const char *spec, char **ret_path,
                     struct bg_error *err)
{
    char sha[BG_SHA256_HEX_LEN + 1];
    bg_autofree char *file = NULL;
    uint64_t size;
    int r;

    if ((r = print_uris(b, spec, &file, &size, sha, err)) < 0)
        return r;
    bg_autofree char *path = bg_asprintf("%s/%s", b->debs, file);
    if (!cached(path, size, sha)) {
        if ((r = download(b, spec, file, size, sha, path, err)) < 0)
            return r;
        b->downloaded++;
        bg_log_info("build image '%s': downloaded %s", b->img.name, file);
    }
    *ret_path = bg_steal_ptr(&path);
    return 0;
}

static int kernel_spec(struct bg_imagebuild *b, char **ret_pkg, char **ret_spec,
                       struct bg_error *err)
{
    const char *argv[] = {"dpkg-deb", "-f", b->debs_meta, "Depends", NULL};
    bg_autofree char *version = NULL;
    struct bg_run_result run;
    int r = bg_imagebuild_run_ok(b, argv, NULL, -1, &run, NULL, err);

    if (r < 0)
        return r;
    r = bg_imagebuild_kernel_depends(run.out, ret_pkg, &version, err);
    bg_run_result_done(&run);
    if (r < 0)
        return r;
    *ret_spec = *version ? bg_asprintf("%s=%s", *ret_pkg, version) : bg_strdup(*ret_pkg);
    return 0;
}

int bg_imagebuild_download_all(struct bg_imagebuild *b, struct bg_error *err)
{
    bg_autofree char *pkg = NULL, *spec = NULL;
    int r;

    bg_imagebuild_step(b, 0, "download %s", BG_IMAGEBUILD_META_PACKAGE);
    if ((r = fetch_deb(b, BG_IMAGEBUILD_META_PACKAGE, &b->debs_meta, err)) < 0 ||
        (r = kernel_spec(b, &pkg, &spec, err)) < 0)
        return r;
    bg_imagebuild_step(b, 1, "download %s", pkg);
    if ((r = fetch_deb(b, spec, &b->debs_kernel, err)) < 0)
        return r;
    bg_imagebuild_step(b, 2, "download %s", BG_IMAGEBUILD_BUSYBOX_PACKAGE);
    return fetch_deb(b, BG_IMAGEBUILD_BUSYBOX_PACKAGE, &b->debs_busybox, err);
}
