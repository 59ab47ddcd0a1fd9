/* SPDX-License-Identifier: MIT */
/* Unit tests for server/image/ext4.c: tarball paths, unpacking beneath a directory and its
 * refusals, and the ext4 image: owners, modes, times and xattrs from the tarball, and the same
 * bytes from two unpacks made at different times. Needs mkfs.ext4 (e2fsprogs). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <ext2fs/ext2fs.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "banger/alloc.h"
#include "host/run.h"
#include "image/ext4.h"
#include "testutil.h"

#define EPOCH 1686387282 /* the tarball's newest mtime, as SOURCE_DATE_EPOCH */

/* One tarball entry to write. */
struct ent {
    const char *path;
    unsigned type; /* AE_IF* */
    unsigned perm;
    unsigned uid, gid;
    const char *data;  /* regular file content, symlink or hard link target */
    const char *xattr; /* "name=value" or NULL */
    int64_t mtime;
};

static char *write_tar(const char *name, const struct ent *e, size_t n)
{
    char *path = bg_asprintf("%s/%s", bg_test_dir(), name);
    struct archive *a = archive_write_new();

    assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *ae = archive_entry_new();
        archive_entry_set_pathname(ae, e[i].path);
        archive_entry_set_uid(ae, e[i].uid);
        archive_entry_set_gid(ae, e[i].gid);
        archive_entry_set_mtime(ae, e[i].mtime ? e[i].mtime : EPOCH, 0);
        if (e[i].type == 0) { /* a hard link */
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_perm(ae, e[i].perm);
            archive_entry_set_hardlink(ae, e[i].data);
        } else {
            archive_entry_set_filetype(ae, e[i].type);
            archive_entry_set_perm(ae, e[i].perm);
        }
        if (e[i].type == AE_IFLNK)
            archive_entry_set_symlink(ae, e[i].data);
        if (e[i].type == AE_IFCHR)
            archive_entry_set_rdev(ae, 0x103);
        if (e[i].type == AE_IFREG && e[i].data)
            archive_entry_set_size(ae, (la_int64_t)strlen(e[i].data));
        if (e[i].xattr) {
            const char *eq = strchr(e[i].xattr, '=');
            bg_autofree char *k = bg_strndup(e[i].xattr, (size_t)(eq - e[i].xattr));
            archive_entry_xattr_add_entry(ae, k, eq + 1, strlen(eq + 1));
        }
        assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
        if (e[i].type == AE_IFREG && e[i].data)
            assert_int_equal(archive_write_data(a, e[i].data, strlen(e[i].data)),
                             (la_ssize_t)strlen(e[i].data));
        archive_entry_free(ae);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return path;
}

static const char long_target[] = "../../usr/share/some/very/long/target/that/does/not/fit/in/"
                                  "the/inode/itself";

static const struct ent rootfs[] = {
    {"./", AE_IFDIR, 0755, 0, 0, NULL, NULL, 0},
    {"./etc/", AE_IFDIR, 0755, 0, 0, NULL, NULL, 0},
    {"./etc/shadow", AE_IFREG, 0640, 0, 42, "root:*:19000::::::\n", NULL, 0},
    {"./root/", AE_IFDIR, 0700, 0, 0, NULL, NULL, 1600000000},
    {"./tmp/", AE_IFDIR, 01777, 0, 0, NULL, NULL, 0},
    {"./usr/", AE_IFDIR, 0755, 0, 0, NULL, NULL, 0},
    {"./usr/bin/", AE_IFDIR, 0755, 0, 0, NULL, NULL, 0},
    {"./usr/bin/passwd", AE_IFREG, 04755, 0, 0, "ELF", NULL, 0},
    {"./usr/bin/ping", AE_IFREG, 0755, 0, 0, "ELF2", "user.banger=cap", 0},
    {"./usr/bin/nothing", AE_IFREG, 0000, 1000, 1000, "", NULL, 0},
    {"./usr/bin/vi", AE_IFLNK, 0777, 0, 0, "vim.basic", NULL, 0},
    {"./usr/bin/long", AE_IFLNK, 0777, 0, 0, long_target, NULL, 0},
    {"./usr/bin/pw2", 0, 04755, 0, 0, "./usr/bin/passwd", NULL, 0},
    {"./dev/", AE_IFDIR, 0755, 0, 0, NULL, NULL, 0},
    {"./dev/null", AE_IFCHR, 0666, 0, 0, NULL, NULL, 0},
    {"./bin", AE_IFLNK, 0777, 0, 0, "usr/bin", NULL, 0},
    {"./home/", AE_IFDIR, 02775, 65534, 100000, NULL, NULL, 0},
};

static void test_path_clean(void **state)
{
    (void)state;
    const struct {
        const char *in, *out;
    } good[] = {{"./", ""},
                {".", ""},
                {"./usr/bin/", "usr/bin"},
                {"usr/bin/ls", "usr/bin/ls"},
                {"./a/./b", "a/b"},
                {"a/.../b", "a/.../b"},
                {"a/..b", "a/..b"}};
    const char *bad[] = {NULL,   "/etc/passwd", "../x", "a/../../x",
                         "a//b", "./a/..",      "a\nb", "a/\x7f"};
    char buf[64];

    for (size_t i = 0; i < BG_ARRAY_SIZE(good); i++) {
        assert_int_equal(bg_ext4_path_clean(good[i].in, buf, sizeof(buf)), 0);
        assert_string_equal(buf, good[i].out);
    }
    for (size_t i = 0; i < BG_ARRAY_SIZE(bad); i++)
        if (bg_ext4_path_clean(bad[i], buf, sizeof(buf)) != -EINVAL)
            fail_msg("'%s' accepted", bad[i] ? bad[i] : "(null)");
    assert_int_equal(bg_ext4_path_clean("abcdefgh", buf, 8), -EINVAL);
    assert_int_equal(bg_ext4_path_clean("abcdefg", buf, 8), 0);
}

static void test_unpack(void **state)
{
    (void)state;
    bg_autofree char *tar = write_tar("root.tar", rootfs, BG_ARRAY_SIZE(rootfs));
    bg_autofree char *dir = bg_asprintf("%s/tree0", bg_test_dir());
    bg_autofree char *shadow = bg_asprintf("%s/etc/shadow", dir);
    bg_autofree char *pw2 = bg_asprintf("%s/usr/bin/pw2", dir);
    bg_autofree char *passwd = bg_asprintf("%s/usr/bin/passwd", dir);
    struct bg_ext4_tree t;
    struct bg_error err;
    struct stat a, b;
    char link[64];

    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(bg_ext4_unpack(tar, dir, NULL, NULL, &t, &err), 0);
    assert_int_equal(t.n, BG_ARRAY_SIZE(rootfs) - 1); /* /dev/null is not unpacked */
    assert_int_equal(t.skipped_nodes, 1);
    assert_int_equal(t.inodes, t.n - 1); /* pw2 is a hard link */
    assert_string_equal(t.m[0].path, "");
    assert_string_equal(t.m[2].path, "etc/shadow");
    assert_int_equal(t.m[2].gid, 42);
    assert_int_equal(t.m[2].perm, 0640);
    assert_int_equal(t.m[7].perm, 04755);
    assert_int_equal(t.m[8].n_xattrs, 1);
    assert_string_equal(t.m[8].xattrs[0].name, "user.banger");
    /* the tree is bangerd's: files 0600, whatever the tarball says */
    assert_int_equal(stat(shadow, &a), 0);
    assert_int_equal(a.st_mode & 07777, 0600);
    assert_int_equal(a.st_size, 19);
    assert_int_equal(stat(pw2, &a), 0);
    assert_int_equal(stat(passwd, &b), 0);
    assert_int_equal(a.st_ino, b.st_ino);
    bg_autofree char *vi = bg_asprintf("%s/usr/bin/vi", dir);
    ssize_t n = readlink(vi, link, sizeof(link) - 1);
    assert_int_equal(n, 9);
    link[n] = '\0';
    assert_string_equal(link, "vim.basic");
    bg_ext4_tree_done(&t);
    assert_int_equal(t.n, 0);
}

static void test_unpack_refusals(void **state)
{
    (void)state;
    const struct {
        struct ent e[3];
        size_t n;
        const char *fragment;
    } cases[] = {
        {{{"../evil", AE_IFREG, 0644, 0, 0, "x", NULL, 0}}, 1, "holds '../evil', not a relative"},
        {{{"/etc/evil", AE_IFREG, 0644, 0, 0, "x", NULL, 0}}, 1, "not a relative path"},
        {{{"./a/b", AE_IFREG, 0644, 0, 0, "x", NULL, 0}}, 1, "open directory 'a' of the tree"},
        {{{"./a", AE_IFLNK, 0777, 0, 0, "/etc", NULL, 0},
          {"./a/passwd", AE_IFREG, 0644, 0, 0, "x", NULL, 0}},
         2,
         "open directory 'a' of the tree"},
        {{{"./x", 0, 0644, 0, 0, "../etc/passwd", NULL, 0}}, 1, "links 'x' to '../etc/passwd'"},
        {{{"./x", AE_IFREG, 0644, 0, 0, "x", NULL, 0}, {"./x", AE_IFREG, 0644, 0, 0, "y", NULL, 0}},
         2,
         "create 'x' in the tree"},
        {{{".", AE_IFREG, 0644, 0, 0, "x", NULL, 0}}, 1, "the tarball's root is not a directory"},
    };

    for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
        bg_autofree char *name = bg_asprintf("bad%zu.tar", i);
        bg_autofree char *tar = write_tar(name, cases[i].e, cases[i].n);
        bg_autofree char *dir = bg_asprintf("%s/bad%zu", bg_test_dir(), i);
        struct bg_ext4_tree t = {0};
        struct bg_error err = {0};
        assert_int_equal(mkdir(dir, 0700), 0);
        int r = bg_ext4_unpack(tar, dir, NULL, NULL, &t, &err);
        if (r >= 0 || err.code != r || !strstr(err.msg, cases[i].fragment))
            fail_msg("case %zu: r=%d msg='%s', want '%s'", i, r, err.msg, cases[i].fragment);
        assert_int_equal(t.n, 0);
    }
    struct bg_ext4_tree t;
    struct bg_error err;
    bg_autofree char *none = bg_asprintf("%s/none.tar", bg_test_dir());
    assert_err(bg_ext4_unpack(none, bg_test_dir(), NULL, NULL, &t, &err), err, -EIO,
               "open the tarball");
}

static bool always(void *cls)
{
    (void)cls;
    return true;
}

static void test_unpack_cancelled(void **state)
{
    (void)state;
    bg_autofree char *tar = write_tar("c.tar", rootfs, BG_ARRAY_SIZE(rootfs));
    bg_autofree char *dir = bg_asprintf("%s/treec", bg_test_dir());
    struct bg_ext4_tree t;
    struct bg_error err;

    assert_int_equal(mkdir(dir, 0700), 0);
    assert_err(bg_ext4_unpack(tar, dir, always, NULL, &t, &err), err, -ECANCELED, "cancelled");
}

/* Unpack tar into a new directory and make image from it. */
static void make_image(const char *tar, const char *tree, const char *image)
{
    bg_autofree char *dir = bg_asprintf("%s/%s", bg_test_dir(), tree);
    struct bg_ext4_tree t;
    struct bg_error err = {0};
    struct bg_run_result res;
    char fake[64];

    snprintf(fake, sizeof(fake), "E2FSPROGS_FAKE_TIME=%d", EPOCH);
    char *env[] = {(char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", fake, NULL};
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(bg_ext4_unpack(tar, dir, NULL, NULL, &t, &err), 0);
    assert_int_equal(bg_ext4_size_mib(&t), 65);
    char **argv = bg_ext4_mkfs_argv(dir, image, bg_ext4_size_mib(&t), &t,
                                    "0c1d2e3f-4a5b-6c7d-8e9f-a0b1c2d3e4f5",
                                    "11111111-2222-3333-4444-555555555555");
    struct bg_run_opts o = {.argv = (const char *const *)argv, .env = env, .out_fd = -1};
    if (bg_run_ok(&o, &res, &err) < 0)
        fail_msg("mkfs.ext4: %s", err.msg);
    bg_run_result_done(&res);
    bg_strv_free(argv);
    if (bg_ext4_stamp(image, &t, EPOCH, &err) < 0)
        fail_msg("stamp: %s", err.msg);
    bg_ext4_tree_done(&t);
}

static void inode_of(ext2_filsys fs, const char *path, struct ext2_inode_large *in)
{
    ext2_ino_t ino = EXT2_ROOT_INO;

    if (*path)
        assert_int_equal(ext2fs_namei(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path, &ino), 0);
    assert_int_equal(ext2fs_read_inode_full(fs, ino, (struct ext2_inode *)in, sizeof(*in)), 0);
}

static void test_image_from_tarball(void **state)
{
    (void)state;
    bg_autofree char *tar = write_tar("img.tar", rootfs, BG_ARRAY_SIZE(rootfs));
    bg_autofree char *a = bg_asprintf("%s/a.ext4", bg_test_dir());
    bg_autofree char *b = bg_asprintf("%s/b.ext4", bg_test_dir());
    struct ext2_inode_large in;
    ext2_filsys fs = NULL;
    size_t la, lb;

    make_image(tar, "tree1", a);
    make_image(tar, "tree2", b);
    /* two unpacks (other inodes, other ctimes) give the same bytes */
    bg_autofree char *da = bg_test_slurp(a, &la);
    bg_autofree char *db = bg_test_slurp(b, &lb);
    assert_int_equal(la, 65u << 20);
    assert_int_equal(la, lb);
    assert_memory_equal(da, db, la);

    assert_int_equal(ext2fs_open(a, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs), 0);
    assert_int_equal(fs->super->s_wtime, EPOCH);
    assert_int_equal(fs->super->s_mkfs_time, EPOCH);
    inode_of(fs, "etc/shadow", &in);
    assert_int_equal(inode_uid(in), 0);
    assert_int_equal(inode_gid(in), 42);
    assert_int_equal(in.i_mode & 07777, 0640);
    assert_int_equal(in.i_mtime, EPOCH);
    assert_int_equal(in.i_ctime, EPOCH);
    assert_int_equal(in.i_atime, EPOCH);
    assert_int_equal(in.i_crtime, EPOCH);
    assert_int_equal(in.i_ctime_extra, 0);
    inode_of(fs, "usr/bin/passwd", &in);
    assert_int_equal(in.i_mode & 07777, 04755);
    assert_int_equal(in.i_links_count, 2);
    inode_of(fs, "usr/bin/nothing", &in);
    assert_int_equal(inode_uid(in), 1000);
    assert_int_equal(in.i_mode & 07777, 0);
    inode_of(fs, "root", &in);
    assert_int_equal(in.i_mode & 07777, 0700);
    assert_int_equal(in.i_mtime, 1600000000);
    assert_int_equal(in.i_crtime, 1600000000);
    inode_of(fs, "tmp", &in);
    assert_int_equal(in.i_mode & 07777, 01777);
    inode_of(fs, "home", &in);
    assert_int_equal(inode_uid(in), 65534);
    assert_int_equal(inode_gid(in), 100000);
    assert_int_equal(in.i_mode & 07777, 02775);
    inode_of(fs, "bin", &in);
    assert_true(LINUX_S_ISLNK(in.i_mode));
    inode_of(fs, "", &in);
    assert_int_equal(inode_uid(in), 0);
    assert_int_equal(in.i_mode & 07777, 0755);

    struct ext2_xattr_handle *h = NULL;
    ext2_ino_t ping;
    void *value = NULL;
    size_t len = 0;
    assert_int_equal(ext2fs_namei(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, "usr/bin/ping", &ping), 0);
    assert_int_equal(ext2fs_xattrs_open(fs, ping, &h), 0);
    assert_int_equal(ext2fs_xattrs_read(h), 0);
    assert_int_equal(ext2fs_xattr_get(h, "user.banger", &value, &len), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(value, "cap", 3);
    ext2fs_free_mem(&value);
    assert_int_equal(ext2fs_xattrs_close(&h), 0);
    ext2fs_close_free(&fs);
}

static void test_stamp_refusals(void **state)
{
    (void)state;
    bg_autofree char *junk = bg_asprintf("%s/junk.img", bg_test_dir());
    bg_autofree char *img = bg_asprintf("%s/a.ext4", bg_test_dir());
    struct bg_ext4_meta m = {.path = (char *)"no/such/file"};
    struct bg_ext4_tree t = {.m = &m, .n = 1};
    struct bg_error err;

    free(bg_test_write_file(junk, "not ext4", 8));
    assert_err(bg_ext4_stamp(junk, &t, EPOCH, &err), err, -EIO, "open the image");
    /* a.ext4 is made by test_image_from_tarball */
    assert_err(bg_ext4_stamp(img, &t, EPOCH, &err), err, -EIO, "find 'no/such/file' in the image");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_clean),         cmocka_unit_test(test_unpack),
        cmocka_unit_test(test_unpack_refusals),    cmocka_unit_test(test_unpack_cancelled),
        cmocka_unit_test(test_image_from_tarball), cmocka_unit_test(test_stamp_refusals),
    };
    return cmocka_run_group_tests(tests, bg_test_dir_setup, bg_test_dir_teardown);
}
