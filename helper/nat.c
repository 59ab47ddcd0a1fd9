/* SPDX-License-Identifier: MIT */
/* The nftables ruleset: rendering (pure) and applying it with `nft -f -`. */
#include "nat.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "spawn.h"

#define NFT_TIMEOUT_MS 10000

const char *bg_nat_nft_path(void)
{
    static const char *const places[] = {"/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"};

    for (size_t i = 0; i < BG_ARRAY_SIZE(places); i++)
        if (access(places[i], X_OK) == 0)
            return places[i];
    return "";
}

struct buf {
    char *p;
    size_t n, cap;
};

BG_PRINTF(2, 3)
static void put(struct buf *b, const char *fmt, ...)
{
    va_list ap, ap2;

    va_start(ap, fmt);
    va_copy(ap2, ap);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->n + (size_t)need + 1 > b->cap) {
        b->cap = (b->n + (size_t)need + 1) * 2;
        b->p = bg_realloc(b->p, b->cap);
    }
    vsnprintf(b->p + b->n, (size_t)need + 1, fmt, ap2);
    va_end(ap2);
    b->n += (size_t)need;
}

static int addr_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void ip_put(struct buf *b, uint32_t a)
{
    put(b, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

/* The guests with nat, sorted. */
static void nat_set(struct buf *b, const struct bg_helper_guest *guests, size_t n)
{
    uint32_t *addrs = bg_calloc(n + 1, sizeof(*addrs));
    size_t k = 0;

    for (size_t i = 0; i < n; i++)
        if (guests[i].nat && bg_ipv4_parse(guests[i].address, &addrs[k], NULL) == 0)
            k++;
    qsort(addrs, k, sizeof(*addrs), addr_cmp);
    put(b, "\tset nat_guests {\n\t\ttype ipv4_addr\n");
    if (k) {
        put(b, "\t\telements = { ");
        for (size_t i = 0; i < k; i++) {
            ip_put(b, addrs[i]);
            put(b, "%s", i + 1 < k ? ", " : " }\n");
        }
    }
    put(b, "\t}\n");
    free(addrs);
}

char *bg_nat_render(const struct bg_install *in, const struct bg_helper_guest *guests, size_t n)
{
    struct buf b = {0};
    const char *br = in->bridge;
    char subnet[32];

    bg_install_cidr(in->subnet, in->prefix, subnet, sizeof(subnet));
    put(&b, "table inet banger\ndelete table inet banger\n");
    put(&b, "table inet banger {\n");
    nat_set(&b, guests, n);
    put(&b, "\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n");
    put(&b, "\t\tiifname \"%s\" ct state established,related accept\n", br);
    put(&b, "\t\tiifname \"%s\" ip daddr ", br);
    ip_put(&b, in->subnet + 1);
    put(&b, " udp dport %u accept\n", in->dns_port);
    put(&b, "\t\tiifname \"%s\" ip daddr ", br);
    ip_put(&b, in->subnet + 1);
    put(&b, " tcp dport %u accept\n", in->dns_port);
    put(&b, "\t\tiifname \"%s\" ip daddr ", br);
    ip_put(&b, in->subnet + 1);
    put(&b, " icmp type echo-request accept\n");
    put(&b, "\t\tiifname \"%s\" drop\n\t}\n", br);
    put(&b, "\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n");
    put(&b, "\t\toifname \"%s\" ct state established,related accept\n", br);
    put(&b, "\t\tiifname \"%s\" oifname != \"%s\" ip saddr @nat_guests accept\n", br, br);
    put(&b, "\t\tiifname \"%s\" drop\n\t\toifname \"%s\" drop\n\t}\n", br, br);
    put(&b, "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy "
            "accept;\n");
    put(&b, "\t\tip saddr %s ip saddr @nat_guests oifname != \"%s\" masquerade\n\t}\n", subnet, br);
    put(&b, "}\n");
    return b.p;
}

const char *bg_nat_render_delete(void)
{
    return "table inet banger\ndelete table inet banger\n";
}

int bg_nat_run(const char *script, struct bg_error *err)
{
    const char *nft = bg_nat_nft_path();
    const char *argv[] = {nft, "-f", "-", NULL};

    if (!nft[0])
        return bg_error_set(err, -ENOENT, "nft is not installed (Debian package nftables)");
    int r = bg_spawn_run(argv, script, strlen(script), NFT_TIMEOUT_MS, err);
    return r < 0 ? bg_error_prefix(err, r, "apply table inet banger") : 0;
}
