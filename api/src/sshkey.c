/* SPDX-License-Identifier: MIT */
/* Strict checks of OpenSSH public keys: an allow-listed type and the base64 blob it names. */
#include "banger/sshkey.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static const char *const key_types[] = {
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
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

static const char *known_type(const char *s, size_t len)
{
    for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++)
        if (strlen(key_types[i]) == len && !memcmp(key_types[i], s, len))
            return key_types[i];
    return NULL;
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
    const char *type = known_type(s, type_len);
    if (!type)
        return bg_error_set(err, -EINVAL,
                            "ssh key: unknown key type (ssh-ed25519, ecdsa-sha2-nistp256/384/521, "
                            "ssh-rsa, or a security-key type)");
    long n = b64_decode(sp + 1, len - type_len - 1, blob);
    if (n < 0)
        return bg_error_set(err, -EINVAL,
                            "ssh key: the key data is not base64 (or has something after it)");
    /* The blob starts with the type as an SSH string: a 32-bit big-endian length, then it. */
    if (n < 4)
        return bg_error_set(err, -EINVAL, "ssh key: the key data is too short");
    uint32_t name_len =
        (uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 | (uint32_t)blob[2] << 8 | blob[3];
    if (name_len != type_len || (size_t)n - 4 < name_len || memcmp(blob + 4, type, type_len))
        return bg_error_set(err, -EINVAL, "ssh key: the key data is not a %s key", type);
    if ((size_t)n == 4 + name_len)
        return bg_error_set(err, -EINVAL, "ssh key: the key data holds no key");
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
