/* SPDX-License-Identifier: MIT */
/* Unit tests for server/image/vmlinux.c: a synthetic bzImage around an LZ4-legacy tiny ELF. */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <lz4.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "banger/alloc.h"
#include "image/vmlinux.h"

#define SETUP_SECTS 1      /* protected-mode code at 1024 */
#define PAYLOAD_OFFSET 100 /* from there */
#define PAYLOAD_AT (1024 + PAYLOAD_OFFSET)
#define ELF_SIZE 20000      /* the tiny ELF, padded so it compresses into two blocks */
#define TRAILER 64          /* bytes after the payload, as a real bzImage has */
#define NOT_ELF 0xffffffffu /* make_elf: spoil the ELF magic */

static char tmpdir[] = "/tmp/test_vmlinux.XXXXXX";

static int group_setup(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    bg_autofree char *cmd = bg_asprintf("rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* A 64-bit ELF with one PT_NOTE segment holding a note of type note_type named "Xen";
 * NOT_ELF spoils its magic. */
static unsigned char *make_elf(uint32_t note_type)
{
    unsigned char *elf = bg_calloc(1, ELF_SIZE);
    Elf64_Ehdr eh = {.e_type = ET_EXEC, .e_machine = EM_X86_64, .e_version = EV_CURRENT};
    Elf64_Phdr ph = {.p_type = PT_NOTE, .p_offset = 0x100, .p_filesz = 12 + 4 + 4};
    Elf64_Nhdr nh = {.n_namesz = 4, .n_descsz = 4, .n_type = note_type};

    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_phoff = sizeof(eh);
    eh.e_phentsize = sizeof(ph);
    eh.e_phnum = 1;
    eh.e_ehsize = sizeof(eh);
    memcpy(elf, &eh, sizeof(eh));
    memcpy(elf + sizeof(eh), &ph, sizeof(ph));
    memcpy(elf + 0x100, &nh, sizeof(nh));
    memcpy(elf + 0x100 + sizeof(nh), "Xen", 4);
    put32(elf + 0x100 + sizeof(nh) + 4, 0x1000000); /* the entry point */
    for (size_t i = 0x200; i < ELF_SIZE; i++)
        elf[i] = (unsigned char)(i * 7 / 13);
    if (note_type == NOT_ELF)
        memcpy(elf, "NOPE", 4);
    return elf;
}

/* Legacy LZ4 frame of data in two blocks, plus the kernel's trailing size. */
static size_t lz4_legacy(const unsigned char *data, size_t len, unsigned char *out)
{
    size_t pos = 0, half = len / 2;

    put32(out, 0x184C2102u);
    pos = 4;
    for (size_t off = 0; off < len; off += half) {
        size_t n = off + half <= len ? half : len - off;
        int c = LZ4_compress_default((const char *)data + off, (char *)out + pos + 4, (int)n,
                                     LZ4_compressBound((int)n));
        assert_true(c > 0);
        put32(out + pos, (uint32_t)c);
        pos += 4 + (size_t)c;
    }
    put32(out + pos, (uint32_t)len);
    return pos + 4;
}

/* A bzImage: setup header with magic, version 2.15 and the payload's place; *ret_plen is the
 * payload length. The caller frees. */
static unsigned char *make_bzimage(const unsigned char *payload, size_t plen, size_t *ret_len)
{
    size_t len = PAYLOAD_AT + plen + TRAILER;
    unsigned char *img = bg_calloc(1, len);

    img[0x1f1] = SETUP_SECTS;
    memcpy(img + 0x202, "HdrS", 4);
    img[0x206] = 0x0f;
    img[0x207] = 0x02;
    put32(img + 0x248, PAYLOAD_OFFSET);
    put32(img + 0x24c, (uint32_t)plen);
    memcpy(img + PAYLOAD_AT, payload, plen);
    *ret_len = len;
    return img;
}

static char *write_tmp(const char *name, const unsigned char *buf, size_t len)
{
    char *path = bg_asprintf("%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

/* A bzImage file around the ELF with this note type; the payload's length via ret_plen. */
static char *good_bzimage(const char *name, uint32_t note_type, unsigned char **ret_img,
                          size_t *ret_len)
{
    bg_autofree unsigned char *elf = make_elf(note_type);
    bg_autofree unsigned char *payload = bg_malloc(LZ4_compressBound(ELF_SIZE) + 64);
    size_t plen = lz4_legacy(elf, ELF_SIZE, payload);
    unsigned char *img = make_bzimage(payload, plen, ret_len);
    char *path = write_tmp(name, img, *ret_len);

    *ret_img = img;
    return path;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Nothing but the listed names in tmpdir: no temporary file left behind. */
static size_t tmp_leftovers(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    size_t n = 0;

    assert_non_null(d);
    while ((de = readdir(d)))
        n += strstr(de->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

static void test_extract_ok(void **state)
{
    bg_autofree unsigned char *img = NULL;
    bg_autofree unsigned char *want = make_elf(BG_VMLINUX_PVH_NOTE);
    size_t len;
    bg_autofree char *bz = good_bzimage("ok.bz", BG_VMLINUX_PVH_NOTE, &img, &len);
    bg_autofree char *out = bg_asprintf("%s/vmlinux", tmpdir);
    struct bg_error err;
    struct stat st;
    (void)state;

    assert_int_equal(bg_vmlinux_extract(bz, out, &err), 0);
    assert_int_equal(stat(out, &st), 0);
    assert_int_equal(st.st_size, ELF_SIZE);
    assert_int_equal(st.st_mode & 07777, 0644);
    bg_autofree unsigned char *got = bg_malloc(ELF_SIZE);
    FILE *f = fopen(out, "rb");
    assert_non_null(f);
    assert_int_equal(fread(got, 1, ELF_SIZE, f), ELF_SIZE);
    fclose(f);
    assert_memory_equal(got, want, ELF_SIZE);
    assert_int_equal(tmp_leftovers(), 0);
    /* Again over the existing file: replaced. */
    assert_int_equal(bg_vmlinux_extract(bz, out, NULL), 0);
    unlink(out);
}

/* One refusal: a change to a good image (or its payload), the code, a message fragment. */
struct bad {
    const char *what;
    void (*change)(unsigned char *img, size_t *len);
    uint32_t note_type;
    int code;
    const char *fragment;
};

static uint32_t plen_of(const unsigned char *img)
{
    return (uint32_t)img[0x24c] | (uint32_t)img[0x24d] << 8 | (uint32_t)img[0x24e] << 16 |
           (uint32_t)img[0x24f] << 24;
}

static void b_none(unsigned char *img, size_t *len)
{
    (void)img, (void)len;
}
static void b_magic(unsigned char *img, size_t *len)
{
    (void)len, img[0x202] = 'X';
}
static void b_version(unsigned char *img, size_t *len)
{
    (void)len, img[0x206] = 0x06;
}
static void b_short(unsigned char *img, size_t *len)
{
    (void)img, *len = 0x240;
}
static void b_plen(unsigned char *img, size_t *len)
{
    put32(img + 0x24c, (uint32_t)(*len - PAYLOAD_AT + 1));
}
static void b_poff(unsigned char *img, size_t *len)
{
    (void)len;
    put32(img + 0x248, 0xfffffff0u);
}
/* The file ends in the middle of the second block; the header says so too. */
static void b_trunc_block(unsigned char *img, size_t *len)
{
    uint32_t first = plen_of(img) / 2;
    put32(img + 0x24c, first);
    *len = PAYLOAD_AT + first;
}
/* Cut after the first block: the next u32 (second block's size) is last, and mismatches. */
static void b_trunc_size(unsigned char *img, size_t *len)
{
    const unsigned char *p = img + PAYLOAD_AT;
    uint32_t c1 = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16;
    put32(img + 0x24c, 4 + 4 + c1 + 4);
    (void)len;
}
static void b_lz4_magic(unsigned char *img, size_t *len)
{
    (void)len, img[PAYLOAD_AT] ^= 0xff;
}
static void b_lz4_corrupt(unsigned char *img, size_t *len)
{
    (void)len;
    memset(img + PAYLOAD_AT + 8, 0xff, 16);
}
static const struct bad bads[] = {
    {"bad magic", b_magic, BG_VMLINUX_PVH_NOTE, -ENOEXEC, "no \"HdrS\" setup header"},
    {"old protocol", b_version, BG_VMLINUX_PVH_NOTE, -ENOEXEC, "older than 2.08"},
    {"short file", b_short, BG_VMLINUX_PVH_NOTE, -ENOEXEC, "no \"HdrS\""},
    {"payload length", b_plen, BG_VMLINUX_PVH_NOTE, -ENOEXEC, "outside the"},
    {"payload offset", b_poff, BG_VMLINUX_PVH_NOTE, -ENOEXEC, "outside the"},
    {"truncated block", b_trunc_block, BG_VMLINUX_PVH_NOTE, -EBADMSG, "truncated or corrupt"},
    {"truncated stream", b_trunc_size, BG_VMLINUX_PVH_NOTE, -EBADMSG, "LZ4 payload is truncated"},
    {"not lz4", b_lz4_magic, BG_VMLINUX_PVH_NOTE, -EBADMSG, "not LZ4"},
    {"corrupt block", b_lz4_corrupt, BG_VMLINUX_PVH_NOTE, -EBADMSG, ""},
    {"not an ELF", b_none, NOT_ELF, -ENOEXEC, "not an ELF vmlinux"},
    {"no PVH note", b_none, 0x11, -ENOEXEC, "no PVH entry note"},
};

static void test_refusals(void **state)
{
    bg_autofree char *out = bg_asprintf("%s/vmlinux", tmpdir);
    (void)state;

    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        bg_autofree unsigned char *img = NULL;
        size_t len;
        bg_autofree char *bz = good_bzimage("bad.bz", bads[i].note_type, &img, &len);
        bg_autofree char *path = NULL;
        struct bg_error err = {0};

        bads[i].change(img, &len);
        path = write_tmp("bad.bz", img, len);
        int r = bg_vmlinux_extract(path, out, &err);
        if (r != bads[i].code || !strstr(err.msg, bads[i].fragment) ||
            !strstr(err.msg, "extract vmlinux from"))
            fail_msg("%s: got %d '%s', want %d '%s'", bads[i].what, r, err.msg, bads[i].code,
                     bads[i].fragment);
        assert_false(exists(out));
        assert_int_equal(tmp_leftovers(), 0);
    }
}

/* The same checks on a buffer: the ELF comes back in memory, a refusal names no file. */
static void test_from_buffer(void **state)
{
    bg_autofree unsigned char *img = NULL;
    bg_autofree unsigned char *want = make_elf(BG_VMLINUX_PVH_NOTE);
    size_t len, elf_len = 0;
    bg_autofree char *bz = good_bzimage("buf.bz", BG_VMLINUX_PVH_NOTE, &img, &len);
    unsigned char *elf = NULL;
    struct bg_error err;
    (void)state;

    assert_int_equal(bg_vmlinux_from_bzimage(img, len, &elf, &elf_len, &err), 0);
    assert_int_equal(elf_len, ELF_SIZE);
    assert_memory_equal(elf, want, ELF_SIZE);
    free(elf);
    elf = NULL;
    img[0x202] = 'X';
    assert_int_equal(bg_vmlinux_from_bzimage(img, len, &elf, &elf_len, &err), -ENOEXEC);
    assert_string_equal(err.msg, "not a bzImage (no \"HdrS\" setup header)");
    assert_null(elf);
    assert_int_equal(bg_vmlinux_from_bzimage(img, 0, &elf, &elf_len, &err), -ENOEXEC);
}

static void test_io_errors(void **state)
{
    bg_autofree unsigned char *img = NULL;
    size_t len;
    bg_autofree char *bz = good_bzimage("io.bz", BG_VMLINUX_PVH_NOTE, &img, &len);
    bg_autofree char *missing = bg_asprintf("%s/missing.bz", tmpdir);
    bg_autofree char *out = bg_asprintf("%s/vmlinux", tmpdir);
    bg_autofree char *bad_out = bg_asprintf("%s/no/such/dir/vmlinux", tmpdir);
    struct bg_error err;
    (void)state;

    assert_int_equal(bg_vmlinux_extract(missing, out, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "open '"));
    assert_int_equal(bg_vmlinux_extract(tmpdir, out, &err), -EFBIG);
    assert_non_null(strstr(err.msg, "not a regular file"));
    assert_int_equal(bg_vmlinux_extract(bz, bad_out, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "temporary file"));
    assert_false(exists(out));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_extract_ok),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_from_buffer),
        cmocka_unit_test(test_io_errors),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
