/* SPDX-License-Identifier: MIT */
/* banger's one nftables table, `table inet banger`, rendered from validated data and replaced
 * atomically as a whole by `nft -f -` (nothing GPL linked). */
#pragma once

#include <stddef.h>

#include "banger/error.h"
#include "banger/helperproto.h"
#include "banger/install.h"

/* The nft program, "" when none of its usual places holds it. */
const char *bg_nat_nft_path(void);

/* The whole script that replaces the table: creating it (so the delete never fails), deleting
 * it, then the table for bridge and subnet of in and guests (n of them, already validated):
 * guests reach banger's DNS and ping the bridge address and nothing else of the host; guests
 * with nat are masqueraded to every other interface; nothing else is forwarded to or from the
 * bridge. Pure and deterministic (addresses sorted), for golden files. *ret is the caller's. */
char *bg_nat_render(const struct bg_install *in, const struct bg_helper_guest *guests, size_t n);

/* The script that removes the table. */
const char *bg_nat_render_delete(void);

/* Run script through `nft -f -` in one transaction: all of it or nothing. */
int bg_nat_run(const char *script, struct bg_error *err);
