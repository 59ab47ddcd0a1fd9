/* SPDX-License-Identifier: MIT */
/* banger's links: the bridge and one tap per VM. Links through netlink (libnl-route-3), the
 * tap's owner and persistence through the TUN ioctls, which have no netlink form. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "banger/error.h"
#include "banger/helperproto.h"
#include "banger/install.h"

/* The bridge of in exists, is a bridge, has the subnet's first address, and is up. Creating
 * it when missing; -EEXIST when a link of that name is not a bridge. */
int bg_link_bridge_ensure(const struct bg_install *in, struct bg_error *err);

/* Delete the bridge of in; 0 when it is not there. */
int bg_link_bridge_delete(const struct bg_install *in, struct bg_error *err);

/* Create (or take again) the persistent tap name, owned by uid:gid so an unprivileged VMM
 * opens it, attached to the bridge of in and up. */
int bg_link_tap_create(const struct bg_install *in, const char *name, struct bg_error *err);

/* Delete tap name; 0 when it is not there, -EPERM when the link is not a tun device. */
int bg_link_tap_delete(const char *name, struct bg_error *err);

/* The names of every link that looks like banger's tap (bg_hv_is_tap_name), into *ret
 * (n_ret entries of BG_HELPER_TAP_LEN + 1 bytes, owned), at most BG_HELPER_VMS_MAX. */
int bg_link_taps_list(char (**ret)[BG_HELPER_TAP_LEN + 1], size_t *n_ret, struct bg_error *err);

/* Whether a link named name exists. */
bool bg_link_exists(const char *name);
