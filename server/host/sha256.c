/* SPDX-License-Identifier: MIT */
/* File hashing with libsodium's sha256, in 1 MiB reads. */
#include "host/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include "banger/alloc.h"

#define CHUNK (1u << 20)

int bg_sha256_fd(int fd, const char *what, const struct bg_sha256_opts *o,
                 char hex[BG_SHA256_HEX_MAX], uint64_t *ret_size, struct bg_error *err)
{
    bg_autofree unsigned char *buf = bg_malloc(CHUNK);
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state st;
    uint64_t size = 0;

    crypto_hash_sha256_init(&st);
    for (;;) {
        if (o && o->cancelled && o->cancelled(o->cls))
            return bg_error_set(err, -ECANCELED, "hash '%s': cancelled", what);
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return bg_error_errno(err, "read '%s'", what);
        if (n == 0)
            break;
        crypto_hash_sha256_update(&st, buf, (unsigned long long)n);
        size += (uint64_t)n;
        if (o && o->progress)
            o->progress(o->cls, size);
    }
    crypto_hash_sha256_final(&st, digest);
    sodium_bin2hex(hex, BG_SHA256_HEX_MAX, digest, sizeof(digest));
    if (ret_size)
        *ret_size = size;
    return 0;
}

int bg_sha256_file(const char *path, char hex[BG_SHA256_HEX_MAX], uint64_t *ret_size,
                   struct bg_error *err)
{
    bg_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd < 0)
        return bg_error_errno(err, "open '%s'", path);
    return bg_sha256_fd(fd, path, NULL, hex, ret_size, err);
}
