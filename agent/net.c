/* SPDX-License-Identifier: MIT */
/* Guest networking from the kernel command line: ioctls, no netlink and no tools needed. */
#include "net.h"

#include <arpa/inet.h>
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/parse.h"
#include "banger/timefmt.h"
#include "cmdline.h"

/* The words seen so far, so that a second one is refused rather than silently winning. */
enum net_key { KEY_IP, KEY_GW, KEY_DNS, KEY_HOSTNAME, KEY_COUNT_ };

static const char *const key_names[KEY_COUNT_] = {
    [KEY_IP] = "banger.ip",
    [KEY_GW] = "banger.gw",
    [KEY_DNS] = "banger.dns",
    [KEY_HOSTNAME] = "banger.hostname",
};

static uint32_t prefix_mask(unsigned prefix)
{
    return prefix ? 0xffffffffu << (32 - prefix) : 0; /* host order */
}

/* inet_pton is strict: four decimal parts, no leading zeros, nothing after. */
static int parse_addr(const char *key, const char *s, struct in_addr *ret, struct bg_error *err)
{
    if (inet_pton(AF_INET, s, ret) != 1)
        return bg_error_set(err, -EINVAL, "%s: '%s' is not an IPv4 address", key, s);
    return 0;
}

/* A.B.C.D/N: a usable host address of its subnet. */
static int parse_ip(const char *s, struct bg_net_config *c, struct bg_error *err)
{
    char addr[INET_ADDRSTRLEN];
    const char *slash = strchr(s, '/');
    uint64_t prefix;
    int r;

    if (!slash || (size_t)(slash - s) >= sizeof(addr))
        return bg_error_set(err, -EINVAL, "banger.ip: '%s' is not ADDRESS/PREFIX", s);
    memcpy(addr, s, (size_t)(slash - s));
    addr[slash - s] = '\0';
    if ((r = parse_addr("banger.ip", addr, &c->addr, err)) < 0)
        return r;
    if (bg_parse_u64(slash + 1, 1, 32, &prefix, NULL) < 0)
        return bg_error_set(err, -EINVAL, "banger.ip: prefix '%s' is not in 1..32", slash + 1);
    c->prefix = (unsigned)prefix;
    uint32_t host = ntohl(c->addr.s_addr) & ~prefix_mask(c->prefix);
    if (c->addr.s_addr == 0 || (c->prefix <= 30 && (host == 0 || host == ~prefix_mask(c->prefix))))
        return bg_error_set(err, -EINVAL, "banger.ip: '%s' is not a host address", s);
    c->configured = true;
    return 0;
}

/* A[,B[,C]] */
static int parse_dns(const char *s, struct bg_net_config *c, struct bg_error *err)
{
    char buf[BG_NET_ARG_MAX + 1];
    char *save = NULL;
    int r;

    snprintf(buf, sizeof(buf), "%s", s);
    if (!buf[0] || buf[0] == ',' || buf[strlen(buf) - 1] == ',' || strstr(buf, ",,"))
        return bg_error_set(err, -EINVAL, "banger.dns: '%s' has an empty entry", s);
    for (char *a = strtok_r(buf, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
        if (c->dns_count == BG_NET_DNS_MAX)
            return bg_error_set(err, -EINVAL, "banger.dns: more than %d servers", BG_NET_DNS_MAX);
        if ((r = parse_addr("banger.dns", a, &c->dns[c->dns_count], err)) < 0)
            return r;
        c->dns_count++;
    }
    return 0;
}

/* One DNS label: the VM name is one, and anything else is not ours. */
static int parse_hostname(const char *s, struct bg_net_config *c, struct bg_error *err)
{
    size_t n = strlen(s);

    if (n == 0 || n > BG_NET_HOSTNAME_MAX || s[0] == '-' || s[n - 1] == '-' ||
        strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != n)
        return bg_error_set(err, -EINVAL,
                            "banger.hostname: '%s' is not a host name (letters, digits and "
                            "'-', at most %d)",
                            s, BG_NET_HOSTNAME_MAX);
    memcpy(c->hostname, s, n + 1);
    return 0;
}

static int parse_word(enum net_key k, const char *v, struct bg_net_config *c, struct bg_error *err)
{
    switch (k) {
    case KEY_IP:
        return parse_ip(v, c, err);
    case KEY_GW:
        c->has_gw = true;
        return parse_addr("banger.gw", v, &c->gw, err);
    case KEY_DNS:
        return parse_dns(v, c, err);
    case KEY_HOSTNAME:
        return parse_hostname(v, c, err);
    case KEY_COUNT_:
        break;
    }
    assert(!"unreachable");
    return -EINVAL;
}

/* What only makes sense together: gw and dns need an address, gw must be reachable. */
static int check_config(const struct bg_net_config *c, struct bg_error *err)
{
    uint32_t mask = prefix_mask(c->prefix);

    if ((c->has_gw || c->dns_count) && !c->configured)
        return bg_error_set(err, -EINVAL, "banger.gw= and banger.dns= need banger.ip=");
    if (c->has_gw &&
        ((ntohl(c->gw.s_addr) ^ ntohl(c->addr.s_addr)) & mask || c->gw.s_addr == c->addr.s_addr))
        return bg_error_set(err, -EINVAL,
                            "banger.gw: %s is not another address of banger.ip's subnet",
                            inet_ntoa(c->gw));
    return 0;
}

/* One banger.* word of the network: refused when given twice or longer than BG_NET_ARG_MAX,
 * parsed otherwise. */
static int take_word(enum net_key k, const char *value, size_t len, bool *seen,
                     struct bg_net_config *c, struct bg_error *err)
{
    char v[BG_NET_ARG_MAX + 1];

    if (*seen)
        return bg_error_set(err, -EINVAL, "%s= is given twice", key_names[k]);
    *seen = true;
    if (len > BG_NET_ARG_MAX)
        return bg_error_set(err, -EINVAL, "%s= is longer than %d bytes", key_names[k],
                            BG_NET_ARG_MAX);
    memcpy(v, value, len);
    v[len] = '\0';
    return parse_word(k, v, c, err);
}

int bg_net_config_parse(const char *cmdline, struct bg_net_config *ret, struct bg_error *err)
{
    struct bg_net_config c = {0};
    bool seen[KEY_COUNT_] = {false};
    const char *cursor = cmdline, *word, *value;
    size_t len, value_len;
    int r;

    while (bg_cmdline_next(&cursor, &word, &len))
        for (size_t k = 0; k < KEY_COUNT_; k++)
            if (bg_cmdline_match(word, len, key_names[k], &value, &value_len) &&
                (r = take_word((enum net_key)k, value, value_len, &seen[k], &c, err)) < 0)
                return r;
    if ((r = check_config(&c, err)) < 0)
        return r;
    *ret = c;
    return 0;
}

int bg_net_resolv_format(const struct bg_net_config *c, char *buf, size_t size)
{
    size_t used;
    int n;

    if (size == 0)
        return -ENOSPC;
    buf[0] = '\0';
    if (!c->dns_count)
        return 0;
    n = snprintf(buf, size, "# written by banger-agent from banger.dns=\n");
    if (n < 0 || (size_t)n >= size)
        return -ENOSPC;
    used = (size_t)n;
    for (size_t i = 0; i < c->dns_count; i++) {
        n = snprintf(buf + used, size - used, "nameserver %s\n", inet_ntoa(c->dns[i]));
        if (n < 0 || (size_t)n >= size - used)
            return -ENOSPC;
        used += (size_t)n;
    }
    return 0;
}

static int if_flags_up(int fd, const char *ifname, struct bg_error *err)
{
    struct ifreq ifr = {0};

    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
        return bg_error_errno(err, "get flags of %s", ifname);
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
        return bg_error_errno(err, "bring up %s", ifname);
    return 0;
}

static int if_set_inet(int fd, const char *ifname, unsigned long req, const char *what,
                       struct in_addr a, struct bg_error *err)
{
    struct ifreq ifr = {0};
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr = a};

    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    memcpy(&ifr.ifr_addr, &sin, sizeof(sin));
    if (ioctl(fd, req, &ifr) < 0)
        return bg_error_errno(err, "set %s %s of %s", what, inet_ntoa(a), ifname);
    return 0;
}

/* The first interface other than lo, by name: eth0 for the one virtio-net device. */
static int iface_pick(char ret[IFNAMSIZ])
{
    DIR *d = opendir("/sys/class/net");
    struct dirent *de;

    ret[0] = '\0';
    if (!d)
        return -errno;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !strcmp(de->d_name, "lo") || strlen(de->d_name) >= IFNAMSIZ)
            continue;
        if (!ret[0] || strcmp(de->d_name, ret) < 0)
            snprintf(ret, IFNAMSIZ, "%s", de->d_name);
    }
    (void)closedir(d);
    return ret[0] ? 0 : -ENODEV;
}

/* virtio-net registers its device when the virtio_mmio bus probes it, which need not have
 * happened by the time finit_module returns: wait for the interface. */
static int iface_wait(char ret[IFNAMSIZ], struct bg_error *err)
{
    int64_t deadline = bg_now_ms() + BG_NET_IFACE_WAIT_MS;

    while (iface_pick(ret) < 0) {
        if (bg_now_ms() >= deadline)
            return bg_error_set(err, -ENODEV,
                                "no network interface besides lo appeared within %d ms",
                                BG_NET_IFACE_WAIT_MS);
        (void)usleep(10000);
    }
    return 0;
}

static int route_add_default(int fd, const char *ifname, struct in_addr gw, struct bg_error *err)
{
    struct rtentry rt = {0};
    struct sockaddr_in any = {.sin_family = AF_INET}, via = {.sin_family = AF_INET, .sin_addr = gw};

    memcpy(&rt.rt_dst, &any, sizeof(any));
    memcpy(&rt.rt_genmask, &any, sizeof(any));
    memcpy(&rt.rt_gateway, &via, sizeof(via));
    rt.rt_flags = RTF_UP | RTF_GATEWAY;
    if (ioctl(fd, SIOCADDRT, &rt) < 0 && errno != EEXIST)
        return bg_error_errno(err, "add default route via %s on %s", inet_ntoa(gw), ifname);
    return 0;
}

/* Write text to path in /etc (created if missing) through the temporary file tmp and rename:
 * a rootfs's resolv.conf may be a symlink into a /run that is not there (systemd-resolved);
 * the rename replaces the link, not its target. */
static int etc_replace(const char *path, const char *tmp, const char *text, struct bg_error *err)
{
    if (mkdir("/etc", 0755) < 0 && errno != EEXIST)
        return bg_error_errno(err, "create /etc");
    bg_autoclose int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return bg_error_errno(err, "create %s", tmp);
    size_t len = strlen(text);
    if (write(fd, text, len) != (ssize_t)len) {
        (void)unlink(tmp);
        return bg_error_errno(err, "write %s", tmp);
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        (void)unlink(tmp);
        errno = e;
        return bg_error_errno(err, "rename %s to %s", tmp, path);
    }
    return 0;
}

static int resolv_write(const struct bg_net_config *c, struct bg_error *err)
{
    char text[512];

    if (!c->dns_count)
        return 0;
    if (bg_net_resolv_format(c, text, sizeof(text)) < 0)
        return bg_error_set(err, -ENOSPC, "resolv.conf text too long");
    return etc_replace(BG_NET_RESOLV_CONF, "/etc/.resolv.conf.banger", text, err);
}

/* Whether the hosts line at s (len bytes, no newline) names name among its host names. */
static bool line_names(const char *s, size_t len, const char *name)
{
    size_t n = strlen(name), i = 0;
    bool first = true; /* the address */

    while (i < len && s[i] != '#') {
        while (i < len && (s[i] == ' ' || s[i] == '\t'))
            i++;
        size_t start = i;
        while (i < len && s[i] != ' ' && s[i] != '\t' && s[i] != '#')
            i++;
        if (i > start && !first && i - start == n && !strncasecmp(s + start, name, n))
            return true;
        first = first && i == start;
    }
    return false;
}

void bg_net_hosts_update(const char *old, size_t len, const char *name, char **ret)
{
    *ret = NULL;
    if (!old) {
        *ret =
            bg_asprintf("# written by banger-agent\n127.0.0.1\tlocalhost\n"
                        "::1\tlocalhost ip6-localhost ip6-loopback\n" BG_NET_HOSTNAME_ADDR "\t%s\n",
                        name);
        return;
    }
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(old + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - old) : len;
        if (line_names(old + i, end - i, name))
            return;
        i = end + 1;
    }
    bg_autofree char *line = bg_asprintf("%s" BG_NET_HOSTNAME_ADDR "\t%s\n",
                                         len == 0 || old[len - 1] == '\n' ? "" : "\n", name);
    size_t n = strlen(line);
    char *text = bg_malloc(len + n + 1);
    memcpy(text, old, len);
    memcpy(text + len, line, n + 1);
    *ret = text;
}

/* The whole of path (at most max bytes) into *ret, NULL when there is none; -EFBIG past max. */
static int read_small(const char *path, size_t max, char **ret, size_t *ret_len,
                      struct bg_error *err)
{
    bg_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);
    bg_autofree char *buf = NULL;
    size_t len = 0;
    ssize_t n;

    *ret = NULL;
    *ret_len = 0;
    if (fd < 0)
        return errno == ENOENT ? 0 : bg_error_errno(err, "open %s", path);
    buf = bg_malloc(max + 1);
    while ((n = read(fd, buf + len, max + 1 - len)) > 0)
        if ((len += (size_t)n) > max)
            return bg_error_set(err, -EFBIG, "%s is over %zu bytes; left as it is", path, max);
    if (n < 0)
        return bg_error_errno(err, "read %s", path);
    *ret = bg_steal_ptr(&buf);
    *ret_len = len;
    return 0;
}

/* /etc/hostname, and a line of /etc/hosts, for the VM's own name. */
static int hostname_files(const char *name, struct bg_error *err)
{
    bg_autofree char *old = NULL;
    bg_autofree char *hosts = NULL;
    bg_autofree char *line = bg_asprintf("%s\n", name);
    size_t len;
    int r;

    if ((r = etc_replace(BG_NET_HOSTNAME_FILE, "/etc/.hostname.banger", line, err)) < 0 ||
        (r = read_small(BG_NET_HOSTS, BG_NET_HOSTS_MAX, &old, &len, err)) < 0)
        return r;
    bg_net_hosts_update(old, len, name, &hosts);
    return hosts ? etc_replace(BG_NET_HOSTS, "/etc/.hosts.banger", hosts, err) : 0;
}

static int iface_configure(int fd, const struct bg_net_config *c, struct bg_error *err)
{
    struct in_addr mask = {.s_addr = htonl(prefix_mask(c->prefix))};
    char ifname[IFNAMSIZ];
    int r;

    /* SIOCSIFADDR sets a classful netmask; the netmask ioctl then fixes it and the
     * broadcast address with it. */
    if ((r = iface_wait(ifname, err)) < 0 ||
        (r = if_set_inet(fd, ifname, SIOCSIFADDR, "address", c->addr, err)) < 0 ||
        (r = if_set_inet(fd, ifname, SIOCSIFNETMASK, "netmask", mask, err)) < 0 ||
        (r = if_flags_up(fd, ifname, err)) < 0)
        return r;
    if (c->has_gw && (r = route_add_default(fd, ifname, c->gw, err)) < 0)
        return r;
    return 0;
}

int bg_net_setup(const struct bg_net_config *c, struct bg_error *err)
{
    int r;

    if (c->hostname[0] && sethostname(c->hostname, strlen(c->hostname)) < 0)
        return bg_error_errno(err, "set hostname '%s'", c->hostname);
    bg_autoclose int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return bg_error_errno(err, "socket");
    if ((r = if_flags_up(fd, "lo", err)) < 0)
        return r;
    if (c->configured && ((r = iface_configure(fd, c, err)) < 0 || (r = resolv_write(c, err)) < 0))
        return r;
    /* last: a root whose /etc cannot be written still gets its network */
    return c->hostname[0] ? hostname_files(c->hostname, err) : 0;
}
