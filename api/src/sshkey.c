/* SPDX-License-Identifier: MIT */
/* Strict checks of OpenSSH public keys: an allow-listed type and the base64 blob it names. */
#include "banger/sshkey.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Each type, and how many SSH strings its blob holds (the type's name first). */
static const struct {
    const char *name;
    int fields;
} key_types[] = {
    {"ssh-ed25519", 2},         /* name, key */
    {"ecdsa-sha2-nistp256", 3}, /* name, curve, point */
    {"ecdsa-sha2-nistp384", 3},
    {"ecdsa-sha2-nistp521", 3},
    {"ssh-rsa", 3},                            /* name, e, n */
    {"sk-ssh-ed25519@openssh.com", 3},         /* name, key, application */
    {"sk-ecdsa-sha2-nistp256@openssh.com", 4}, /* name, curve, point, application */
};

/* The value of one base64 digit, or -1. */
static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    return c == '/' ? 63 : -1;
}

/* Decode canonical padded base64 (len a multiple of 4, '=' only at the end, unused bits zero)
 * into out (at least len / 4 * 3 bytes). Returns the byte count, or -1. */
static long b64_decode(const char *s, size_t len, uint8_t *out)
{
    size_t n = 0;

    if (len == 0 || len % 4)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        bool last = i + 4 == len;
        int pad = last ? (s[i + 3] == '=') + (s[i + 2] == '=' && s[i + 3] == '=') : 0;
        int v[4];
        for (int k = 0; k < 4 - pad; k++)
            if ((v[k] = b64_value(s[i + k])) < 0)
                return -1;
        if (pad == 2 && (v[1] & 0x0f))
            return -1;
        if (pad == 1 && (v[2] & 0x03))
            return -1;
        out[n++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
        if (pad < 2)
            out[n++] = (uint8_t)(v[1] << 4 | v[2] >> 2);
        if (pad < 1)
            out[n++] = (uint8_t)(v[2] << 6 | v[3]);
    }
    return (long)n;
}

static int known_type(const char *s, size_t len)
{
    for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++)
        if (strlen(key_types[i].name) == len && !memcmp(key_types[i].name, s, len))
            return (int)i;
    return -1;
}

/* The blob is exactly `fields` SSH strings (a 32-bit big-endian length, then that many
 * bytes), the first of them type, each of the others not empty. */
static bool blob_ok(const uint8_t *blob, size_t n, const char *type, int fields)
{
    size_t off = 0;

    for (int i = 0; i < fields; i++) {
        if (n - off < 4)
            return false;
        uint32_t len = (uint32_t)blob[off] << 24 | (uint32_t)blob[off + 1] << 16 |
                       (uint32_t)blob[off + 2] << 8 | blob[off + 3];
        off += 4;
        if (len == 0 || len > n - off)
            return false;
        if (i == 0 && (len != strlen(type) || memcmp(blob + off, type, len)))
            return false;
        /* an ed25519 key is 32 bytes */
        if (i == 1 && !strcmp(type, "ssh-ed25519") && len != 32)
            return false;
        off += len;
    }
    return off == n;
}

int bg_sshkey_validate(const char *s, size_t len, struct bg_error *err)
{
    uint8_t blob[BG_SSHKEY_MAX];

    if (len > BG_SSHKEY_MAX)
        return bg_error_set(err, -EINVAL, "ssh key: longer than %d bytes", BG_SSHKEY_MAX);
    const char *sp = memchr(s, ' ', len);
    if (!sp)
        return bg_error_set(err, -EINVAL, "ssh key: not 'TYPE BASE64'");
    size_t type_len = (size_t)(sp - s);
    int t = known_type(s, type_len);
    if (t < 0)
        return bg_error_set(err, -EINVAL,
                            "ssh key: unknown key type (ssh-ed25519, ecdsa-sha2-nistp256/384/521, "
                            "ssh-rsa, or a security-key type)");
    long n = b64_decode(sp + 1, len - type_len - 1, blob);
    if (n < 0)
        return bg_error_set(err, -EINVAL,
                            "ssh key: the key data is not base64 (or has something after it)");
    if (!blob_ok(blob, (size_t)n, key_types[t].name, key_types[t].fields))
        return bg_error_set(err, -EINVAL, "ssh key: the key data is not a %s key",
                            key_types[t].name);
    return 0;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int bg_sshkey_from_line(const char *line, size_t len, char *buf, size_t size, struct bg_error *err)
{
    size_t start = 0, end;

    while (start < len && is_space(line[start]))
        start++;
    /* TYPE, one or more blanks, BASE64; the comment after the next blank is dropped */
    end = start;
    while (end < len && !is_space(line[end]))
        end++;
    size_t type_end = end;
    while (end < len && (line[end] == ' ' || line[end] == '\t'))
        end++;
    size_t data = end;
    while (end < len && !is_space(line[end]))
        end++;
    if (type_end == start || data == end)
        return bg_error_set(err, -EINVAL, "ssh key: not 'TYPE BASE64 [COMMENT]'");
    size_t type_len = type_end - start, data_len = end - data;
    size_t key_len = type_len + 1 + data_len;
    char key[BG_SSHKEY_MAX + 1];
    if (key_len > BG_SSHKEY_MAX)
        return bg_error_set(err, -EINVAL, "ssh key: longer than %d bytes", BG_SSHKEY_MAX);
    memcpy(key, line + start, type_len);
    key[type_len] = ' ';
    memcpy(key + type_len + 1, line + data, data_len);
    key[key_len] = '\0';
    int r = bg_sshkey_validate(key, key_len, err);
    if (r < 0)
        return r;
    if (key_len >= size)
        return bg_error_set(err, -EINVAL, "ssh key: longer than %zu bytes", size - 1);
    memcpy(buf, key, key_len + 1);
    return 0;
}
