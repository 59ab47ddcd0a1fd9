/* SPDX-License-Identifier: MIT */
/* Rootfs tarball to ext4: unpack beneath a directory, mkfs.ext4 -d, stamp with libext2fs. */
#include "image/ext4.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <et/com_err.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/utf8.h"

#define BLOCK 4096u
#define SHORT_SYMLINK 59 /* a target this long or shorter lives in the inode */
#define CANCEL_EVERY 256 /* entries between two looks at the cancel flag */

int bg_ext4_path_clean(const char *path, char *ret, size_t size)
{
    size_t out = 0;
    const char *p = path;

    if (!p || p[0] == '/')
        return -EINVAL;
    while (*p) {
        size_t n = strcspn(p, "/");
        if (n == 0) {
            /* "a//b" is refused; one trailing '/' (a directory) is fine */
            if (p[1])
                return -EINVAL;
            break;
        }
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return -EINVAL;
        if (!(n == 1 && p[0] == '.')) {
            for (size_t i = 0; i < n; i++)
                if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
                    return -EINVAL;
            if (out + (out > 0) + n + 1 > size)
                return -EINVAL;
            if (out > 0)
                ret[out++] = '/';
            memcpy(ret + out, p, n);
            out += n;
        }
        p += n;
        if (*p == '/')
            p++;
    }
    if (size == 0)
        return -EINVAL;
    ret[out] = '\0';
    return 0;
}

/* ---- unpack ---- */

struct unpack {
    int root;                   /* the tree's directory */
    int parent;                 /* the directory last opened (root or a cached fd) */
    char parent_path[PATH_MAX]; /* its path relative to root */
    struct bg_ext4_tree *t;
};

static void parent_close(struct unpack *u)
{
    if (u->parent >= 0 && u->parent != u->root)
        (void)close(u->parent);
    u->parent = u->root;
    u->parent_path[0] = '\0';
}

/* The directory rel (relative, canonical) beneath root, each component opened without
 * following a link; borrowed until the next call. */
static int open_dir(struct unpack *u, const char *rel, int *ret_fd, struct bg_error *err)
{
    int cur = u->root;

    if (!strcmp(rel, u->parent_path)) {
        *ret_fd = u->parent;
        return 0;
    }
    parent_close(u);
    for (const char *p = rel; *p;) {
        size_t n = strcspn(p, "/");
        bg_autofree char *comp = bg_strndup(p, n);
        int next = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        if (cur != u->root)
            (void)close(cur);
        if (next < 0)
            return bg_error_set(err, -e, "open directory '%s' of the tree: %s", BG_QUOTE(rel),
                                strerror(e));
        cur = next;
        p += n + (p[n] == '/');
    }
    u->parent = cur;
    snprintf(u->parent_path, sizeof(u->parent_path), "%s", rel);
    *ret_fd = cur;
    return 0;
}

/* The parent directory of path and its last component. */
static int open_parent(struct unpack *u, const char *path, int *ret_fd, const char **ret_leaf,
                       struct bg_error *err)
{
    const char *slash = strrchr(path, '/');
    bg_autofree char *dir = slash ? bg_strndup(path, (size_t)(slash - path)) : bg_strdup("");

    *ret_leaf = slash ? slash + 1 : path;
    return open_dir(u, dir, ret_fd, err);
}

static int write_data(struct archive *a, int fd, const char *path, int64_t size,
                      struct bg_error *err)
{
    const void *buf;
    size_t len;
    la_int64_t off;
    int r;

    while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
        for (size_t done = 0; done < len;) {
            ssize_t w = pwrite(fd, (const char *)buf + done, len - done, (off_t)off + (off_t)done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return bg_error_errno(err, "write '%s' of the tree", BG_QUOTE(path));
            done += (size_t)w;
        }
    }
    if (r != ARCHIVE_EOF)
        return bg_error_set(err, -EIO, "read '%s' from the tarball: %s", BG_QUOTE(path),
                            archive_error_string(a) ? archive_error_string(a) : "failed");
    /* a file that ends in a hole */
    if (ftruncate(fd, (off_t)size) < 0)
        return bg_error_errno(err, "truncate '%s' of the tree", BG_QUOTE(path));
    return 0;
}

static int make_file(struct unpack *u, struct archive *a, struct archive_entry *e, int dirfd,
                     const char *leaf, const char *path, struct bg_error *err)
{
    const char *link = archive_entry_hardlink(e);

    if (link) {
        char target[PATH_MAX];
        const char *tleaf;
        int tfd;
        if (bg_ext4_path_clean(link, target, sizeof(target)) < 0 || !target[0])
            return bg_error_set(err, -EINVAL, "the tarball links '%s' to '%s', not a path in it",
                                BG_QUOTE(path), BG_QUOTE(link));
        bg_autofree char *leaf_copy = bg_strdup(leaf);
        bg_autofree char *path_copy = bg_strdup(path);
        int r = open_parent(u, target, &tfd, &tleaf, err);
        if (r < 0)
            return r;
        /* the target's directory is now cached: open the link's own directory again */
        int keep = dup(tfd);
        if (keep < 0)
            return bg_error_errno(err, "dup");
        r = open_parent(u, path_copy, &dirfd, &leaf, err);
        if (r >= 0 && linkat(keep, tleaf, dirfd, leaf_copy, 0) < 0)
            r = bg_error_errno(err, "link '%s' to '%s' in the tree", BG_QUOTE(path_copy), target);
        (void)close(keep);
        return r;
    }
    bg_autoclose int fd =
        openat(dirfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return bg_error_errno(err, "create '%s' in the tree", BG_QUOTE(path));
    u->t->blocks += ((uint64_t)archive_entry_size(e) + BLOCK - 1) / BLOCK;
    return write_data(a, fd, path, archive_entry_size(e), err);
}

static int make_entry(struct unpack *u, struct archive *a, struct archive_entry *e,
                      const char *path, struct bg_error *err)
{
    const char *leaf;
    struct stat st;
    int dirfd, r;

    if (!path[0])
        return archive_entry_filetype(e) == AE_IFDIR
                   ? 0
                   : bg_error_set(err, -EINVAL, "the tarball's root is not a directory");
    if ((r = open_parent(u, path, &dirfd, &leaf, err)) < 0)
        return r;
    /* a hard link may come with file type 0 */
    if (archive_entry_hardlink(e))
        return make_file(u, a, e, dirfd, leaf, path, err);
    switch (archive_entry_filetype(e)) {
    case AE_IFDIR:
        u->t->blocks++;
        if (mkdirat(dirfd, leaf, 0700) == 0)
            return 0;
        if (errno == EEXIST && fstatat(dirfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISDIR(st.st_mode))
            return 0;
        return bg_error_errno(err, "create directory '%s' in the tree", BG_QUOTE(path));
    case AE_IFLNK: {
        const char *target = archive_entry_symlink(e);
        if (!target)
            return bg_error_set(err, -EINVAL, "the tarball's symlink '%s' has no target",
                                BG_QUOTE(path));
        u->t->blocks += strlen(target) > SHORT_SYMLINK;
        if (symlinkat(target, dirfd, leaf) < 0)
            return bg_error_errno(err, "create symlink '%s' in the tree", BG_QUOTE(path));
        return 0;
    }
    case AE_IFREG:
        return make_file(u, a, e, dirfd, leaf, path, err);
    default:
        return 1; /* a device, FIFO or socket: not unpacked */
    }
}

static bool has_xattr(const struct bg_ext4_meta *m, const char *name)
{
    for (size_t i = 0; i < m->n_xattrs; i++)
        if (!strcmp(m->xattrs[i].name, name))
            return true;
    return false;
}

static int record(struct bg_ext4_tree *t, struct archive_entry *e, const char *path,
                  struct bg_error *err)
{
    const char *name;
    const void *value;
    size_t size;

    if (t->n == BG_EXT4_ENTRIES_MAX)
        return bg_error_set(err, -EINVAL, "the tarball holds more than %d entries",
                            BG_EXT4_ENTRIES_MAX);
    if (t->n % 1024 == 0)
        t->m = bg_realloc(t->m, (t->n + 1024) * sizeof(*t->m));
    struct bg_ext4_meta *m = &t->m[t->n++];
    memset(m, 0, sizeof(*m));
    m->path = bg_strdup(path);
    m->uid = (uint32_t)archive_entry_uid(e);
    m->gid = (uint32_t)archive_entry_gid(e);
    m->perm = (uint32_t)archive_entry_perm(e) & 07777;
    m->mtime = (int64_t)archive_entry_mtime(e);
    if (!archive_entry_hardlink(e))
        t->inodes++;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
        if (!name || size > BG_EXT4_XATTR_MAX)
            return bg_error_set(err, -EINVAL, "'%s' has an extended attribute banger cannot keep",
                                BG_QUOTE(path));
        if (has_xattr(m, name))
            continue; /* a pax header may carry it twice (SCHILY. and LIBARCHIVE.) */
        m->xattrs = bg_realloc(m->xattrs, (m->n_xattrs + 1) * sizeof(*m->xattrs));
        struct bg_ext4_xattr *x = &m->xattrs[m->n_xattrs++];
        x->name = bg_strdup(name);
        x->value = bg_malloc(size ? size : 1);
        memcpy(x->value, value, size);
        x->size = size;
    }
    return 0;
}

static int unpack_all(struct unpack *u, struct archive *a, bool (*cancelled)(void *), void *cls,
                      struct bg_error *err)
{
    struct archive_entry *e;
    char path[PATH_MAX];
    int r;

    for (size_t count = 0;; count++) {
        if (count % CANCEL_EVERY == 0 && cancelled && cancelled(cls))
            return bg_error_set(err, -ECANCELED, "cancelled");
        r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            return 0;
        if (r < ARCHIVE_WARN)
            return bg_error_set(err, -EIO, "read the tarball: %s",
                                archive_error_string(a) ? archive_error_string(a) : "failed");
        const char *name = archive_entry_pathname(e);
        if (bg_ext4_path_clean(name, path, sizeof(path)) < 0)
            return bg_error_set(err, -EINVAL, "the tarball holds '%s', not a relative path",
                                BG_QUOTE(name ? name : ""));
        if ((r = make_entry(u, a, e, path, err)) < 0)
            return r;
        if (r > 0)
            u->t->skipped_nodes++;
        else if ((r = record(u->t, e, path, err)) < 0)
            return r;
    }
}

int bg_ext4_unpack(const char *tar, const char *dir, bool (*cancelled)(void *cls), void *cls,
                   struct bg_ext4_tree *ret, struct bg_error *err)
{
    struct bg_ext4_tree t = {0};
    struct unpack u = {.t = &t};
    struct archive *a = archive_read_new();
    int r;

    u.root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    u.parent = u.root;
    if (u.root < 0) {
        r = bg_error_errno(err, "open '%s'", dir);
        goto out;
    }
    archive_read_support_format_tar(a);
    if (archive_read_open_filename(a, tar, 1 << 16) != ARCHIVE_OK) {
        r = bg_error_set(err, -EIO, "open the tarball '%s': %s", tar,
                         archive_error_string(a) ? archive_error_string(a) : "failed");
        goto out;
    }
    r = unpack_all(&u, a, cancelled, cls, err);
out:
    parent_close(&u);
    if (u.root >= 0)
        (void)close(u.root);
    archive_read_free(a);
    if (r < 0) {
        bg_ext4_tree_done(&t);
        return r;
    }
    *ret = t;
    return 0;
}

void bg_ext4_tree_done(struct bg_ext4_tree *t)
{
    for (size_t i = 0; i < t->n; i++) {
        for (size_t j = 0; j < t->m[i].n_xattrs; j++) {
            free(t->m[i].xattrs[j].name);
            free(t->m[i].xattrs[j].value);
        }
        free(t->m[i].xattrs);
        free(t->m[i].path);
    }
    free(t->m);
    memset(t, 0, sizeof(*t));
}

/* ---- mkfs ---- */

#define INODE_SIZE 256
#define MIB (UINT64_C(1) << 20)

static uint64_t inode_count(const struct bg_ext4_tree *t)
{
    return t->inodes + t->inodes / 10 + 64;
}

uint64_t bg_ext4_size_mib(const struct bg_ext4_tree *t)
{
    uint64_t bytes = t->blocks * BLOCK + t->blocks * BLOCK / 10 + inode_count(t) * INODE_SIZE;

    return (bytes + MIB - 1) / MIB + 64;
}

char **bg_ext4_mkfs_argv(const char *dir, const char *image, uint64_t size_mib,
                         const struct bg_ext4_tree *t, const char *uuid, const char *hash_seed)
{
    char **argv = bg_calloc(24, sizeof(char *));
    size_t n = 0;

    argv[n++] = bg_strdup("mkfs.ext4");
    argv[n++] = bg_strdup("-q");
    argv[n++] = bg_strdup("-F");
    argv[n++] = bg_strdup("-b");
    argv[n++] = bg_asprintf("%u", BLOCK);
    argv[n++] = bg_strdup("-I");
    argv[n++] = bg_asprintf("%d", INODE_SIZE);
    argv[n++] = bg_strdup("-N");
    argv[n++] = bg_asprintf("%llu", (unsigned long long)inode_count(t));
    argv[n++] = bg_strdup("-m");
    argv[n++] = bg_strdup("0");
    argv[n++] = bg_strdup("-O");
    argv[n++] = bg_strdup("^has_journal");
    argv[n++] = bg_strdup("-L");
    argv[n++] = bg_strdup("banger-rootfs");
    argv[n++] = bg_strdup("-U");
    argv[n++] = bg_strdup(uuid);
    argv[n++] = bg_strdup("-E");
    argv[n++] = bg_asprintf("hash_seed=%s", hash_seed);
    argv[n++] = bg_strdup("-d");
    argv[n++] = bg_strdup(dir);
    argv[n++] = bg_strdup(image);
    argv[n++] = bg_asprintf("%lluM", (unsigned long long)size_mib);
    return argv;
}

/* ---- stamp ---- */

static int e2_error(struct bg_error *err, errcode_t e, const char *what, const char *path)
{
    return bg_error_set(err, -EIO, "%s '%s' in the image: %s", what, BG_QUOTE(path),
                        error_message(e));
}

static int stamp_xattrs(ext2_filsys fs, ext2_ino_t ino, const struct bg_ext4_meta *m,
                        struct bg_error *err)
{
    struct ext2_xattr_handle *h = NULL;
    errcode_t e = ext2fs_xattrs_open(fs, ino, &h);

    if (!e)
        e = ext2fs_xattrs_read(h);
    for (size_t i = 0; !e && i < m->n_xattrs; i++)
        e = ext2fs_xattr_set(h, m->xattrs[i].name, m->xattrs[i].value, m->xattrs[i].size);
    if (h) {
        errcode_t c = ext2fs_xattrs_close(&h);
        e = e ? e : c;
    }
    return e ? e2_error(err, e, "set the extended attributes of", m->path) : 0;
}

static int stamp_entry(ext2_filsys fs, const struct bg_ext4_meta *m, struct ext2_inode_large *in,
                       int size, struct bg_error *err)
{
    ext2_ino_t ino = EXT2_ROOT_INO;
    errcode_t e = 0;

    if (m->path[0])
        e = ext2fs_namei(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, m->path, &ino);
    if (e)
        return e2_error(err, e, "find", m->path);
    if ((e = ext2fs_read_inode_full(fs, ino, (struct ext2_inode *)in, size)))
        return e2_error(err, e, "read", m->path);
    in->i_uid = (__u16)(m->uid & 0xffff);
    ext2fs_set_i_uid_high(*in, m->uid >> 16);
    in->i_gid = (__u16)(m->gid & 0xffff);
    ext2fs_set_i_gid_high(*in, m->gid >> 16);
    in->i_mode = (__u16)((in->i_mode & LINUX_S_IFMT) | (m->perm & 07777));
    in->i_mtime = (__u32)m->mtime;
    if ((e = ext2fs_write_inode_full(fs, ino, (struct ext2_inode *)in, size)))
        return e2_error(err, e, "write", m->path);
    return m->n_xattrs ? stamp_xattrs(fs, ino, m, err) : 0;
}

/* Every inode in use: atime, ctime and crtime are its mtime; no nanoseconds. */
static int stamp_times(ext2_filsys fs, struct ext2_inode_large *in, int size, struct bg_error *err)
{
    ext2_inode_scan scan;
    ext2_ino_t ino;
    errcode_t e = ext2fs_open_inode_scan(fs, 0, &scan);

    if (e)
        return e2_error(err, e, "scan the inodes of", "");
    while (!(e = ext2fs_get_next_inode_full(scan, &ino, (struct ext2_inode *)in, size)) && ino) {
        if (!in->i_links_count && !in->i_mode)
            continue;
        in->i_atime = in->i_ctime = in->i_mtime;
        if (size > EXT2_GOOD_OLD_INODE_SIZE && in->i_extra_isize >= 24) {
            in->i_ctime_extra = in->i_mtime_extra = in->i_atime_extra = 0;
            in->i_crtime = in->i_mtime;
            in->i_crtime_extra = 0;
        }
        if ((e = ext2fs_write_inode_full(fs, ino, (struct ext2_inode *)in, size)))
            break;
    }
    ext2fs_close_inode_scan(scan);
    return e ? e2_error(err, e, "stamp the times of the inodes of", "") : 0;
}

int bg_ext4_stamp(const char *image, const struct bg_ext4_tree *t, int64_t epoch,
                  struct bg_error *err)
{
    ext2_filsys fs = NULL;
    errcode_t e = ext2fs_open(image, EXT2_FLAG_RW | EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs);
    int r = 0;

    if (e)
        return bg_error_set(err, -EIO, "open the image '%s': %s", image, error_message(e));
    int size = EXT2_INODE_SIZE(fs->super);
    struct ext2_inode_large *in =
        bg_calloc(1, (size_t)size > sizeof(*in) ? (size_t)size : sizeof(*in));
    fs->now = (time_t)epoch;
    for (size_t i = 0; r >= 0 && i < t->n; i++)
        r = stamp_entry(fs, &t->m[i], in, size, err);
    if (r >= 0)
        r = stamp_times(fs, in, size, err);
    free(in);
    fs->super->s_wtime = (__u32)epoch;
    /* close_free frees fs whether or not the write succeeded */
    if ((e = ext2fs_close_free(&fs)) && r >= 0)
        r = bg_error_set(err, -EIO, "write the image '%s': %s", image, error_message(e));
    return r;
}
