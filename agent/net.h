/* SPDX-License-Identifier: MIT */
/* Guest networking: loopback, one interface with a static IPv4 address and default route,
 * resolv.conf and the hostname, all from the kernel command line. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "banger/error.h"

#define BG_NET_DNS_MAX 3       /* resolv.conf's MAXNS */
#define BG_NET_ARG_MAX 128     /* longest banger.* value taken from the command line */
#define BG_NET_HOSTNAME_MAX 63 /* one DNS label: the kernel takes 64, we take a label */
#define BG_NET_IFACE_WAIT_MS 5000
#define BG_NET_RESOLV_CONF "/etc/resolv.conf"
#define BG_NET_HOSTS "/etc/hosts"
#define BG_NET_HOSTNAME_FILE "/etc/hostname"
#define BG_NET_HOSTS_MAX (64 * 1024)     /* a longer /etc/hosts is left as it is */
#define BG_NET_HOSTNAME_ADDR "127.0.1.1" /* where the own name resolves, as Debian has it */

/* What the kernel command line asks of the network. */
struct bg_net_config {
    bool configured;                        /* banger.ip= was given: set up an interface */
    struct in_addr addr;                    /* banger.ip=A.B.C.D/N: the address */
    unsigned prefix;                        /* ... and its prefix length, 1..32 */
    bool has_gw;                            /* banger.gw= was given */
    struct in_addr gw;                      /* banger.gw=: the default route, inside the subnet */
    size_t dns_count;                       /* how many banger.dns= servers */
    struct in_addr dns[BG_NET_DNS_MAX];     /* banger.dns=A[,B[,C]] */
    char hostname[BG_NET_HOSTNAME_MAX + 1]; /* banger.hostname=, "" for none */
};

/* Parse the banger.ip=, banger.gw=, banger.dns= and banger.hostname= words of cmdline (the
 * text of /proc/cmdline; other words are ignored) into *ret. gw and dns need ip; gw must lie
 * inside ip's subnet; a word given twice, a malformed address or prefix, more than
 * BG_NET_DNS_MAX servers or a hostname that is not [A-Za-z0-9-] (no leading or trailing '-',
 * at most BG_NET_HOSTNAME_MAX) are refused. Returns 0, or -EINVAL with err; *ret is written
 * only on success. */
int bg_net_config_parse(const char *cmdline, struct bg_net_config *ret, struct bg_error *err);

/* The resolv.conf text for c ("" when it names no server) into buf of size bytes. Returns
 * 0, or -ENOSPC when buf is too small. */
int bg_net_resolv_format(const struct bg_net_config *c, char *buf, size_t size);

/* The /etc/hosts text that makes name resolve locally: old (the file's len bytes, NULL when
 * there is none) with "127.0.1.1 name" added unless a line (comments aside) already names it;
 * without old, the localhost lines too. *ret is the new text (free()), or NULL when old names
 * it already. Never fails. */
void bg_net_hosts_update(const char *old, size_t len, const char *name, char **ret);

/* Configure the guest from c: set the hostname, bring up lo; when c->configured, wait up to
 * BG_NET_IFACE_WAIT_MS for the first interface other than lo (by name) in /sys/class/net,
 * give it the address and netmask, bring it up, add the default route, and write
 * BG_NET_RESOLV_CONF (creating /etc) through a temporary file and rename, in the root the
 * caller sees; last, with a hostname, write BG_NET_HOSTNAME_FILE and add its line to
 * BG_NET_HOSTS (bg_net_hosts_update) the same way. Returns 0, or <0 with err at the first
 * step that failed. */
int bg_net_setup(const struct bg_net_config *c, struct bg_error *err);
