/* SPDX-License-Identifier: MIT */
/* Bridge and taps: libnl-route-3 for links and addresses, TUN ioctls for owner and persistence. */
#include "link.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "validate.h"

static void sock_freep(struct nl_sock **s)
{
    if (*s)
        nl_socket_free(*s);
}

static void link_putp(struct rtnl_link **l)
{
    if (*l)
        rtnl_link_put(*l);
}

/* libnl's negative NLE_ codes as errno values, for the reply. */
static int nl_errno(int e)
{
    switch (-e) {
    case NLE_EXIST:
        return -EEXIST;
    case NLE_OBJ_NOTFOUND:
    case NLE_NODEV:
        return -ENOENT;
    case NLE_PERM:
        return -EPERM;
    case NLE_BUSY:
        return -EBUSY;
    default:
        return -EIO;
    }
}

static int nl_fail(struct bg_error *err, int e, const char *what, const char *name)
{
    return bg_error_set(err, nl_errno(e), "%s '%s': %s", what, name, nl_geterror(e));
}

static int sock_open(struct nl_sock **ret, struct bg_error *err)
{
    struct nl_sock *s = nl_socket_alloc();
    int e;

    if (!s)
        return bg_error_set(err, -ENOMEM, "netlink socket");
    if ((e = nl_connect(s, NETLINK_ROUTE)) < 0) {
        nl_socket_free(s);
        return bg_error_set(err, -EIO, "netlink connect: %s", nl_geterror(e));
    }
    *ret = s;
    return 0;
}

bool bg_link_exists(const char *name)
{
    return if_nametoindex(name) != 0;
}

static int link_up(struct nl_sock *s, struct rtnl_link *l, const char *name, struct bg_error *err)
{
    bg_auto(link_putp) struct rtnl_link *chg = rtnl_link_alloc();
    int e;

    rtnl_link_set_flags(chg, IFF_UP);
    if ((e = rtnl_link_change(s, l, chg, 0)) < 0)
        return nl_fail(err, e, "set up", name);
    return 0;
}

static int bridge_address(struct nl_sock *s, const struct bg_install *in, int ifindex,
                          struct bg_error *err)
{
    struct rtnl_addr *a = rtnl_addr_alloc();
    struct nl_addr *local = NULL;
    char cidr[32];
    int e;

    bg_install_cidr(in->subnet + 1, in->prefix, cidr, sizeof(cidr));
    if ((e = nl_addr_parse(cidr, AF_INET, &local)) == 0) {
        rtnl_addr_set_ifindex(a, ifindex);
        e = rtnl_addr_set_local(a, local);
        if (e == 0)
            e = rtnl_addr_add(s, a, 0);
        nl_addr_put(local);
    }
    rtnl_addr_put(a);
    if (e < 0 && e != -NLE_EXIST)
        return nl_fail(err, e, "address bridge", in->bridge);
    return 0;
}

int bg_link_bridge_ensure(const struct bg_install *in, struct bg_error *err)
{
    bg_auto(sock_freep) struct nl_sock *s = NULL;
    bg_auto(link_putp) struct rtnl_link *l = NULL;
    int r, e;

    if ((r = sock_open(&s, err)) < 0)
        return r;
    if (rtnl_link_get_kernel(s, 0, in->bridge, &l) < 0) {
        bg_auto(link_putp) struct rtnl_link *nb = rtnl_link_bridge_alloc();
        rtnl_link_set_name(nb, in->bridge);
        if ((e = rtnl_link_add(s, nb, NLM_F_CREATE | NLM_F_EXCL)) < 0 && e != -NLE_EXIST)
            return nl_fail(err, e, "create bridge", in->bridge);
        if ((e = rtnl_link_get_kernel(s, 0, in->bridge, &l)) < 0)
            return nl_fail(err, e, "find bridge", in->bridge);
    }
    if (!rtnl_link_is_bridge(l))
        return bg_error_set(err, -EEXIST, "link '%s' exists and is not a bridge", in->bridge);
    if ((r = bridge_address(s, in, rtnl_link_get_ifindex(l), err)) < 0)
        return r;
    return link_up(s, l, in->bridge, err);
}

/* Delete link name when it is of kind (NULL: any); 0 when absent. */
static int link_delete(const char *name, const char *kind, struct bg_error *err)
{
    bg_auto(sock_freep) struct nl_sock *s = NULL;
    bg_auto(link_putp) struct rtnl_link *l = NULL;
    int r, e;

    if ((r = sock_open(&s, err)) < 0)
        return r;
    if ((e = rtnl_link_get_kernel(s, 0, name, &l)) < 0)
        return nl_errno(e) == -ENOENT ? 0 : nl_fail(err, e, "find link", name);
    const char *type = rtnl_link_get_type(l);
    if (kind && (!type || strcmp(type, kind)))
        return bg_error_set(err, -EPERM, "link '%s' is not a %s device (%s)", name, kind,
                            type ? type : "no kind");
    if ((e = rtnl_link_delete(s, l)) < 0 && nl_errno(e) != -ENOENT)
        return nl_fail(err, e, "delete link", name);
    return 0;
}

int bg_link_bridge_delete(const struct bg_install *in, struct bg_error *err)
{
    return link_delete(in->bridge, "bridge", err);
}

/* TUNSETIFF on a new or existing persistent tap, owned by uid:gid. */
static int tap_make(const char *name, uid_t uid, gid_t gid, struct bg_error *err)
{
    struct ifreq ifr = {0};
    bg_autoclose int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

    if (fd < 0)
        return bg_error_errno(err, "open /dev/net/tun");
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0)
        return bg_error_errno(err, "create tap '%s'", name);
    if (ioctl(fd, TUNSETOWNER, (unsigned long)uid) < 0 ||
        ioctl(fd, TUNSETGROUP, (unsigned long)gid) < 0)
        return bg_error_errno(err, "set the owner of tap '%s'", name);
    if (ioctl(fd, TUNSETPERSIST, 1L) < 0)
        return bg_error_errno(err, "make tap '%s' persistent", name);
    return 0;
}

int bg_link_tap_create(const struct bg_install *in, const char *name, struct bg_error *err)
{
    bg_auto(sock_freep) struct nl_sock *s = NULL;
    bg_auto(link_putp) struct rtnl_link *tap = NULL;
    bg_auto(link_putp) struct rtnl_link *br = NULL;
    int r, e;

    if ((r = tap_make(name, in->owner_uid, in->owner_gid, err)) < 0)
        return r;
    if ((r = sock_open(&s, err)) < 0)
        return r;
    if ((e = rtnl_link_get_kernel(s, 0, name, &tap)) < 0)
        return nl_fail(err, e, "find tap", name);
    if ((e = rtnl_link_get_kernel(s, 0, in->bridge, &br)) < 0)
        return bg_error_set(err, -ENOENT, "bridge '%s' does not exist (bridge_ensure first)",
                            in->bridge);
    if ((e = rtnl_link_enslave_ifindex(s, rtnl_link_get_ifindex(br), rtnl_link_get_ifindex(tap))) <
        0)
        return nl_fail(err, e, "attach tap to bridge", name);
    return link_up(s, tap, name, err);
}

int bg_link_tap_delete(const char *name, struct bg_error *err)
{
    return link_delete(name, "tun", err);
}

int bg_link_taps_list(char (**ret)[BG_HELPER_TAP_LEN + 1], size_t *n_ret, struct bg_error *err)
{
    bg_auto(sock_freep) struct nl_sock *s = NULL;
    struct nl_cache *cache = NULL;
    char(*names)[BG_HELPER_TAP_LEN + 1] = bg_calloc(BG_HELPER_VMS_MAX, sizeof(*names));
    size_t n = 0;
    int r, e;

    if ((r = sock_open(&s, err)) < 0) {
        free(names);
        return r;
    }
    if ((e = rtnl_link_alloc_cache(s, AF_UNSPEC, &cache)) < 0) {
        free(names);
        return bg_error_set(err, -EIO, "list links: %s", nl_geterror(e));
    }
    for (struct nl_object *o = nl_cache_get_first(cache); o && n < BG_HELPER_VMS_MAX;
         o = nl_cache_get_next(o)) {
        const char *name = rtnl_link_get_name((struct rtnl_link *)o);
        if (name && bg_hv_is_tap_name(name))
            snprintf(names[n++], sizeof(names[0]), "%s", name);
    }
    nl_cache_free(cache);
    *ret = names;
    *n_ret = n;
    return 0;
}
