/* SPDX-License-Identifier: MIT */
/* Unit tests for the pure parts of server/image/ (build, debs, kmod): Depends, apt URIs, .modinfo,
 * load order. */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "banger/alloc.h"
#include "image/debs.h"
#include "image/kmod.h"

/* ---- Depends ---- */

static void test_depends_ok(void **state)
{
    (void)state;
    static const struct {
        const char *depends, *pkg, *version;
    } cases[] = {
        {"linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)\n", "linux-image-6.1.0-56-cloud-amd64",
         "6.1.192-2"},
        {"linux-image-6.12.9+deb13-cloud-amd64 (= 6.12.9-1)",
         "linux-image-6.12.9+deb13-cloud-amd64", "6.12.9-1"},
        {"initramfs-tools | linux-initramfs-tool, linux-image-6.1.0-9-cloud-amd64",
         "linux-image-6.1.0-9-cloud-amd64", ""},
        {"foo (>= 1:2.0~rc1), linux-image-6.1.0-1-cloud-amd64 (= 1:6.1~x+y)",
         "linux-image-6.1.0-1-cloud-amd64", "1:6.1~x+y"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *pkg = NULL, *version = NULL;
        struct bg_error err;
        assert_int_equal(bg_imagebuild_kernel_depends(cases[i].depends, &pkg, &version, &err), 0);
        assert_string_equal(pkg, cases[i].pkg);
        assert_string_equal(version, cases[i].version);
        free(pkg);
        free(version);
    }
}

static void test_depends_refused(void **state)
{
    (void)state;
    static const struct {
        const char *depends, *fragment;
    } cases[] = {
        {"", "names no linux-image"},
        {"libc6 (>= 2.36)", "names no linux-image"},
        {"linux-image-cloud-amd64 (= 1)", "names no linux-image"},
        {"linux-image-amd64", "names no linux-image"},
        {"Linux-Image-6.1-cloud-amd64", "not a package name"},
        {"linux-image-6.1.0-56-cloud-amd64 (= 6.1;rm)", "malformed version"},
        {"linux-image-6.1.0-56-cloud-amd64 (= 6.1", "malformed version"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *pkg = NULL, *version = NULL;
        struct bg_error err;
        assert_int_equal(bg_imagebuild_kernel_depends(cases[i].depends, &pkg, &version, &err),
                         -EINVAL);
        assert_non_null(strstr(err.msg, cases[i].fragment));
        assert_null(pkg);
        assert_null(version);
    }
}

/* ---- apt-get download --print-uris ---- */

#define SHA "3d3fdbe91d4660c873e14b092c213fe81c1da6362daa236eb25d0171eb108744"

static void test_uri_ok(void **state)
{
    (void)state;
    char sha[BG_SHA256_HEX_LEN + 1];
    char *file = NULL;
    uint64_t size = 0;
    struct bg_error err;

    assert_int_equal(bg_imagebuild_uri_parse("'http://deb.debian.org/debian/pool/main/b/busybox/"
                                             "busybox-static_1.35.0-4%2bdeb12u1%2bb1_amd64.deb' "
                                             "busybox-static_1%3a1.35.0-4+deb12u1+b1_amd64.deb "
                                             "928188 SHA256:" SHA,
                                             &file, &size, sha, &err),
                     0);
    assert_string_equal(file, "busybox-static_1%3a1.35.0-4+deb12u1+b1_amd64.deb");
    assert_int_equal(size, 928188);
    assert_string_equal(sha, SHA);
    free(file);
    assert_int_equal(bg_imagebuild_uri_parse("'file:/x/a_1_amd64.deb' a_1_amd64.deb 10 MD5Sum:ab",
                                             &file, &size, sha, &err),
                     0);
    assert_string_equal(sha, "");
    free(file);
}

static void test_uri_refused(void **state)
{
    (void)state;
    static const struct {
        const char *line, *fragment;
    } cases[] = {
        {"http://x a.deb 1 SHA256:" SHA, "not 'URI' FILE SIZE HASH"},
        {"'http://x a.deb 1 SHA256:" SHA, "not 'URI' FILE SIZE HASH"},
        {"'http://x' a.deb 1", "not 'URI' FILE SIZE HASH"},
        {"'http://x' a.deb 1 SHA256:" SHA " extra", "not 'URI' FILE SIZE HASH"},
        {"'http://x' ../a.deb 1 SHA256:" SHA, "not a .deb name"},
        {"'http://x' dir/a.deb 1 SHA256:" SHA, "not a .deb name"},
        {"'http://x' a.tar 1 SHA256:" SHA, "not a .deb name"},
        {"'http://x' .deb 1 SHA256:" SHA, "not a .deb name"},
        {"'http://x' a.deb -1 SHA256:" SHA, "the size '"},
        {"'http://x' a.deb 0 SHA256:" SHA, "the size '"},
        {"'http://x' a.deb 1 SHA256:ABC", "malformed SHA256"},
        {"'http://x' a.deb 1 SHA256:" SHA "0", "malformed SHA256"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char sha[BG_SHA256_HEX_LEN + 1] = "untouched";
        char *file = NULL;
        uint64_t size;
        struct bg_error err;
        assert_int_equal(bg_imagebuild_uri_parse(cases[i].line, &file, &size, sha, &err), -EINVAL);
        if (!strstr(err.msg, cases[i].fragment))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].fragment);
        assert_null(file);
        assert_string_equal(sha, "untouched"); /* outputs only on success */
    }
}

/* ---- .modinfo ---- */

/* An ELF64 relocatable file with .shstrtab and .modinfo (content given) into buf. */
static size_t make_ko(unsigned char *buf, size_t cap, const char *modinfo, size_t len)
{
    static const char shstr[] = "\0.shstrtab\0.modinfo";
    Elf64_Ehdr eh = {.e_type = ET_REL,
                     .e_machine = EM_X86_64,
                     .e_version = EV_CURRENT,
                     .e_ehsize = sizeof(Elf64_Ehdr),
                     .e_shentsize = sizeof(Elf64_Shdr),
                     .e_shnum = 3,
                     .e_shstrndx = 1};
    Elf64_Shdr sh[3] = {{0}};
    size_t off = sizeof(eh);

    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    memset(buf, 0, cap);
    sh[1] = (Elf64_Shdr){
        .sh_name = 1, .sh_type = SHT_STRTAB, .sh_offset = off, .sh_size = sizeof(shstr)};
    memcpy(buf + off, shstr, sizeof(shstr));
    off += sizeof(shstr);
    sh[2] = (Elf64_Shdr){.sh_name = 11, .sh_type = SHT_PROGBITS, .sh_offset = off, .sh_size = len};
    memcpy(buf + off, modinfo, len);
    off = (off + len + 7) & ~(size_t)7;
    eh.e_shoff = off;
    memcpy(buf, &eh, sizeof(eh));
    memcpy(buf + off, sh, sizeof(sh));
    off += sizeof(sh);
    assert_true(off <= cap);
    return off;
}

static void test_modinfo(void **state)
{
    (void)state;
    static const char info[] = "license=GPL\0\0depends=virtio,virtio_ring\0name=virtio_blk";
    static const char none[] = "depends=\0name=vsock";
    unsigned char buf[1024];
    char *deps = NULL;
    struct bg_error err;
    size_t n = make_ko(buf, sizeof(buf), info, sizeof(info));

    assert_int_equal(bg_imagebuild_modinfo_depends(buf, n, &deps, &err), 0);
    assert_string_equal(deps, "virtio,virtio_ring");
    free(deps);
    n = make_ko(buf, sizeof(buf), none, sizeof(none));
    assert_int_equal(bg_imagebuild_modinfo_depends(buf, n, &deps, &err), 0);
    assert_string_equal(deps, "");
    free(deps);
    /* depends= as the very last bytes, without a NUL */
    n = make_ko(buf, sizeof(buf), "depends=vsock", 13);
    assert_int_equal(bg_imagebuild_modinfo_depends(buf, n, &deps, &err), 0);
    assert_string_equal(deps, "vsock");
    free(deps);
}

static void test_modinfo_refused(void **state)
{
    (void)state;
    static const char info[] = "depends=virtio";
    unsigned char buf[1024];
    char *deps = NULL;
    struct bg_error err;
    size_t n = make_ko(buf, sizeof(buf), info, sizeof(info));

    /* truncated before the section headers */
    assert_int_equal(bg_imagebuild_modinfo_depends(buf, n - 8, &deps, &err), -ENOEXEC);
    assert_non_null(strstr(err.msg, ".modinfo section"));
    /* not ELF, too short, 32-bit */
    assert_int_equal(
        bg_imagebuild_modinfo_depends("plain text, no ELF at all here", 30, &deps, &err), -ENOEXEC);
    assert_int_equal(bg_imagebuild_modinfo_depends(buf, 10, &deps, &err), -ENOEXEC);
    buf[EI_CLASS] = ELFCLASS32;
    assert_int_equal(bg_imagebuild_modinfo_depends(buf, n, &deps, &err), -ENOEXEC);
    buf[EI_CLASS] = ELFCLASS64;
    /* .modinfo pointing past the end */
    Elf64_Ehdr eh;
    memcpy(&eh, buf, sizeof(eh));
    Elf64_Shdr sh;
    memcpy(&sh, buf + eh.e_shoff + 2 * sizeof(sh), sizeof(sh));
    sh.sh_size = 1u << 30;
    memcpy(buf + eh.e_shoff + 2 * sizeof(sh), &sh, sizeof(sh));
    assert_int_equal(bg_imagebuild_modinfo_depends(buf, n, &deps, &err), -ENOEXEC);
    assert_null(deps);
}

/* ---- module names and load order ---- */

static void test_module_name(void **state)
{
    (void)state;
    char buf[64];
    assert_string_equal(bg_imagebuild_module_name("kernel/drivers/virtio/virtio.ko", buf, 64),
                        "virtio");
    assert_string_equal(bg_imagebuild_module_name("a/virtio-blk.ko.xz", buf, 64), "virtio_blk");
    assert_string_equal(bg_imagebuild_module_name("overlay.ko.zst", buf, 64), "overlay");
    assert_string_equal(bg_imagebuild_module_name("vmw_vsock-virtio", buf, 64), "vmw_vsock_virtio");
}

static char *fixture(const char *name)
{
    const char *data = getenv("BANGER_TEST_DATA");
    if (!data)
        return NULL;
    bg_autofree char *path = bg_asprintf("%s/imagebuild/%s", data, name);
    FILE *f = fopen(path, "re");
    assert_non_null(f);
    char *buf = bg_calloc(1, 1 << 16);
    assert_true(fread(buf, 1, (1 << 16) - 1, f) > 0);
    fclose(f);
    return buf;
}

static void free_paths(char **paths)
{
    for (size_t i = 0; paths && paths[i]; i++)
        free(paths[i]);
    free(paths);
}

static void test_order_fixture(void **state)
{
    (void)state;
    bg_autofree char *dep = fixture("modules.dep");
    bg_autofree char *builtin = fixture("modules.builtin");
    static const char *const want[] = {
        "kernel/drivers/virtio/virtio_ring.ko",
        "kernel/drivers/virtio/virtio.ko",
        "kernel/drivers/virtio/virtio_mmio.ko",
        "kernel/drivers/block/virtio_blk.ko",
        "kernel/drivers/char/virtio_console.ko",
        "kernel/net/core/failover.ko",
        "kernel/drivers/net/net_failover.ko",
        "kernel/drivers/net/virtio_net.ko",
        "kernel/net/vmw_vsock/vsock.ko",
        "kernel/net/vmw_vsock/vmw_vsock_virtio_transport_common.ko",
        "kernel/net/vmw_vsock/vmw_vsock_virtio_transport.ko",
    };
    char **paths = NULL;
    size_t n = 0;
    struct bg_error err;

    if (!dep)
        skip(); /* needs BANGER_TEST_DATA, set by ctest */
    /* overlay is in modules.builtin, so it is skipped rather than missing */
    assert_int_equal(
        bg_imagebuild_modules_order(dep, builtin, bg_imagebuild_modules, &paths, &n, &err), 0);
    assert_int_equal(n, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < n; i++)
        assert_string_equal(paths[i], want[i]);
    assert_null(paths[n]);
    free_paths(paths);
    /* the same when the wanted modules come in reverse and with dashes */
    static const char *const rev[] = {"vmw-vsock-virtio-transport", "virtio_ring", NULL};
    assert_int_equal(bg_imagebuild_modules_order(dep, NULL, rev, &paths, &n, &err), 0);
    assert_int_equal(n, 5);
    assert_string_equal(paths[0], "kernel/net/vmw_vsock/vsock.ko");
    assert_string_equal(paths[4], "kernel/net/vmw_vsock/vmw_vsock_virtio_transport.ko");
    free_paths(paths);
}

static void test_order_refused(void **state)
{
    (void)state;
    static const struct {
        const char *dep;
        int code;
        const char *fragment;
    } cases[] = {
        {"a.ko: b.ko\nb.ko: a.ko\n", -ELOOP, "cycle"},
        {"a.ko: a.ko\n", -ELOOP, "cycle"},
        {"a.ko: missing.ko\n", -ENOENT, "needs 'missing.ko'"},
        {"b.ko:\n", -ENOENT, "'a' is in neither"},
        {"a.ko b.ko\n", -EINVAL, "line 1 is not"},
        {"b.ko:\n: x\n", -EINVAL, "line 2 is not"},
    };
    static const char *const want[] = {"a", NULL};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char **paths = NULL;
        size_t n = 0;
        struct bg_error err;
        assert_int_equal(
            bg_imagebuild_modules_order(cases[i].dep, "x.ko\n", want, &paths, &n, &err),
            cases[i].code);
        if (!strstr(err.msg, cases[i].fragment))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].fragment);
        assert_null(paths);
    }
}

/* A chain longer than BG_IMAGEBUILD_MODULES_MAX is refused, not followed without bound. */
static void test_order_too_many(void **state)
{
    (void)state;
    char *dep = bg_strdup("");
    for (int i = 0; i < BG_IMAGEBUILD_MODULES_MAX + 5; i++) {
        char *next = bg_asprintf("%sm%d.ko: m%d.ko\n", dep, i, i + 1);
        free(dep);
        dep = next;
    }
    char *next = bg_asprintf("%sm%d.ko:\n", dep, BG_IMAGEBUILD_MODULES_MAX + 5);
    free(dep);
    dep = next;
    static const char *const want[] = {"m0", NULL};
    char **paths = NULL;
    size_t n;
    struct bg_error err;
    int r = bg_imagebuild_modules_order(dep, NULL, want, &paths, &n, &err);
    assert_true(r == -E2BIG || r == -ELOOP);
    assert_null(paths);
    free(dep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_depends_ok),    cmocka_unit_test(test_depends_refused),
        cmocka_unit_test(test_uri_ok),        cmocka_unit_test(test_uri_refused),
        cmocka_unit_test(test_modinfo),       cmocka_unit_test(test_modinfo_refused),
        cmocka_unit_test(test_module_name),   cmocka_unit_test(test_order_fixture),
        cmocka_unit_test(test_order_refused), cmocka_unit_test(test_order_too_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
