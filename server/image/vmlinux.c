/* SPDX-License-Identifier: MIT */
/* bzImage → ELF vmlinux: setup header, legacy-LZ4 payload, PVH note check, atomic write. */
#include "image/vmlinux.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <lz4.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "host/fileio.h"

/* x86 boot protocol setup header (Documentation/arch/x86/boot.rst). */
#define SETUP_SECTS 0x1f1
#define HDR_MAGIC 0x202 /* "HdrS" */
#define HDR_VERSION 0x206
#define PAYLOAD_OFFSET 0x248 /* from the protected-mode code at (setup_sects + 1) * 512 */
#define PAYLOAD_LENGTH 0x24c
#define HDR_END 0x250
#define PAYLOAD_MIN_VERSION 0x0208 /* payload_offset/length appeared in 2.08 */
#define LZ4_LEGACY_MAGIC 0x184C2102u

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The payload's place in the image, from the setup header. */
static int find_payload(const unsigned char *img, size_t len, size_t *ret_off, size_t *ret_len,
                        struct bg_error *err)
{
    if (len < HDR_END || memcmp(img + HDR_MAGIC, "HdrS", 4) != 0)
        return bg_error_set(err, -ENOEXEC, "not a bzImage (no \"HdrS\" setup header)");
    unsigned version = (unsigned)img[HDR_VERSION] | (unsigned)img[HDR_VERSION + 1] << 8;
    if (version < PAYLOAD_MIN_VERSION)
        return bg_error_set(err, -ENOEXEC, "boot protocol %u.%02u is older than 2.08 (no payload)",
                            version >> 8, version & 0xff);
    unsigned sects = img[SETUP_SECTS] ? img[SETUP_SECTS] : 4; /* 0 means 4 (boot.rst) */
    uint64_t off = ((uint64_t)sects + 1) * 512 + le32(img + PAYLOAD_OFFSET);
    uint64_t plen = le32(img + PAYLOAD_LENGTH);
    if (plen < 4 || off > len || plen > len - off)
        return bg_error_set(err, -ENOEXEC,
                            "payload (offset %llu, length %llu) is outside the %zu-byte image",
                            (unsigned long long)off, (unsigned long long)plen, len);
    *ret_off = (size_t)off;
    *ret_len = (size_t)plen;
    return 0;
}

/* One legacy-frame block into out (grown as needed). */
static int lz4_block(const unsigned char *src, uint32_t csize, unsigned char **out, size_t *cap,
                     size_t *used, struct bg_error *err)
{
    if (*used + BG_VMLINUX_LZ4_BLOCK > BG_VMLINUX_MAX)
        return bg_error_set(err, -EFBIG, "vmlinux is larger than %u bytes", BG_VMLINUX_MAX);
    if (*cap - *used < BG_VMLINUX_LZ4_BLOCK) {
        *cap = *cap * 2 > *used + BG_VMLINUX_LZ4_BLOCK ? *cap * 2 : *used + BG_VMLINUX_LZ4_BLOCK;
        *out = bg_realloc(*out, *cap);
    }
    int n = LZ4_decompress_safe((const char *)src, (char *)*out + *used, (int)csize,
                                (int)BG_VMLINUX_LZ4_BLOCK);
    if (n < 0)
        return bg_error_set(err, -EBADMSG, "LZ4 block at payload byte %zu is corrupt", *used);
    *used += (size_t)n;
    return 0;
}

/* Legacy LZ4 frame: magic, then (u32 size, data) blocks. The kernel appends the decompressed
 * size as a last u32, which reads like a block size with no data behind it; it must match. */
static int lz4_legacy(const unsigned char *p, size_t len, unsigned char **ret, size_t *ret_len,
                      struct bg_error *err)
{
    bg_autofree unsigned char *out = NULL;
    size_t pos = 4, cap = 0, used = 0;
    int r;

    if (len < 4 || le32(p) != LZ4_LEGACY_MAGIC)
        return bg_error_set(err, -EBADMSG, "payload is not LZ4 (legacy frame magic missing)");
    while (len - pos >= 4) {
        uint32_t csize = le32(p + pos);
        pos += 4;
        if (pos == len) { /* the trailing size */
            if (csize != used)
                return bg_error_set(err, -EBADMSG,
                                    "LZ4 payload is truncated: %zu bytes out, %u expected", used,
                                    csize);
            break;
        }
        if (csize == LZ4_LEGACY_MAGIC) /* concatenated frames, as lz4 -d accepts */
            continue;
        if (csize == 0 || csize > (uint32_t)LZ4_compressBound(BG_VMLINUX_LZ4_BLOCK) ||
            csize > len - pos)
            return bg_error_set(err, -EBADMSG, "LZ4 payload is truncated or corrupt at byte %zu",
                                pos - 4);
        if ((r = lz4_block(p + pos, csize, &out, &cap, &used, err)) < 0)
            return r;
        pos += csize;
    }
    if (pos != len || used == 0)
        return bg_error_set(err, -EBADMSG, "LZ4 payload is truncated at byte %zu", pos);
    *ret = bg_steal_ptr(&out);
    *ret_len = used;
    return 0;
}

/* A PVH entry note (name "Xen", type 0x12) among the notes in [p, p + len). */
static bool has_pvh_note(const unsigned char *p, size_t len)
{
    size_t pos = 0;

    while (len - pos >= sizeof(Elf64_Nhdr)) {
        Elf64_Nhdr nh;
        memcpy(&nh, p + pos, sizeof(nh));
        pos += sizeof(nh);
        size_t name = ((size_t)nh.n_namesz + 3) & ~(size_t)3;
        size_t desc = ((size_t)nh.n_descsz + 3) & ~(size_t)3;
        if (name > len - pos || desc > len - pos - name)
            return false;
        if (nh.n_type == BG_VMLINUX_PVH_NOTE && nh.n_namesz == 4 && !memcmp(p + pos, "Xen", 4))
            return true;
        pos += name + desc;
    }
    return false;
}

/* An x86_64 little-endian ELF with a PT_NOTE segment holding the PVH note. */
static int elf_check(const unsigned char *elf, size_t len, struct bg_error *err)
{
    Elf64_Ehdr eh;

    if (len < sizeof(eh) || memcmp(elf, ELFMAG, SELFMAG) != 0)
        return bg_error_set(err, -ENOEXEC, "the bzImage payload is not an ELF vmlinux");
    memcpy(&eh, elf, sizeof(eh));
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
        eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > len ||
        (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff)
        return bg_error_set(err, -ENOEXEC, "the vmlinux is not a well-formed 64-bit ELF");
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, elf + eh.e_phoff + i * sizeof(ph), sizeof(ph));
        if (ph.p_type == PT_NOTE && ph.p_offset <= len && ph.p_filesz <= len - ph.p_offset &&
            has_pvh_note(elf + ph.p_offset, (size_t)ph.p_filesz))
            return 0;
    }
    return bg_error_set(err, -ENOEXEC,
                        "the vmlinux has no PVH entry note (Xen, type 0x12): the kernel was "
                        "built without CONFIG_PVH and neither Firecracker nor QEMU can enter it");
}

static int write_atomic(const char *path, const unsigned char *buf, size_t len,
                        struct bg_error *err)
{
    bg_autofree char *tmp = bg_asprintf("%s.tmp.XXXXXX", path);
    bg_autoclose int fd = mkostemp(tmp, O_CLOEXEC);
    int r;

    if (fd < 0)
        return bg_error_errno(err, "create a temporary file for '%s'", path);
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, buf + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = bg_error_errno(err, "write '%s'", tmp);
            goto fail;
        }
        off += (size_t)n;
    }
    if (fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
        r = bg_error_errno(err, "finish '%s'", tmp);
        goto fail;
    }
    if (rename(tmp, path) < 0) {
        r = bg_error_errno(err, "rename '%s' to '%s'", tmp, path);
        goto fail;
    }
    return 0;

fail:
    (void)unlink(tmp);
    return r;
}

int bg_vmlinux_from_bzimage(const void *img, size_t len, unsigned char **ret_elf, size_t *ret_len,
                            struct bg_error *err)
{
    bg_autofree unsigned char *elf = NULL;
    size_t off = 0, plen = 0, elf_len = 0;
    int r;

    if ((r = find_payload(img, len, &off, &plen, err)) < 0 ||
        (r = lz4_legacy((const unsigned char *)img + off, plen, &elf, &elf_len, err)) < 0 ||
        (r = elf_check(elf, elf_len, err)) < 0)
        return r;
    *ret_elf = bg_steal_ptr(&elf);
    *ret_len = elf_len;
    return 0;
}

int bg_vmlinux_extract(const char *bzimage, const char *out_path, struct bg_error *err)
{
    bg_autofree char *img = NULL;
    bg_autofree unsigned char *elf = NULL;
    size_t img_len = 0, elf_len = 0;
    int r;

    if ((r = bg_file_read(bzimage, BG_VMLINUX_BZIMAGE_MAX, &img, &img_len, err)) < 0)
        return r;
    if ((r = bg_vmlinux_from_bzimage(img, img_len, &elf, &elf_len, err)) < 0)
        return bg_error_prefix(err, r, "extract vmlinux from '%s'", bzimage);
    return write_atomic(out_path, elf, elf_len, err);
}
