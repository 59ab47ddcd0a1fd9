/* SPDX-License-Identifier: MIT */
/* ssh in the guest: the image's sshd started at boot with host keys of this VM's own, the
 * client keys the host authorizes, and the host keys it reports. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "banger/error.h"

/* Start the image's sshd (/usr/sbin/sshd), when it has one, in the root the agent switched
 * to. Host keys are this VM's own: generated into the overlay at the first boot (an ed25519
 * key, with ssh-keygen), and any found without the marker the agent leaves beside them
 * (/etc/ssh/.banger-host-keys) came with the image and are replaced, since every VM of the
 * image would share them. Makes sshd's privilege separation directory (/run/sshd). Returns
 * true when sshd started; what went wrong is logged on the console. */
bool bg_sshd_start(void);

/* Add key ("TYPE BASE64", bg_sshkey_validate) to root's authorized_keys under root_dir, a
 * prefix ("" in a guest, a directory in host-test mode): root_dir/root/.ssh/authorized_keys: the
 * directory 0700, the file 0600, written through a temporary file and rename. A key already on one
 * of its lines is left as it is; other lines are kept byte for byte. Returns 0 or <0 with err. */
int bg_sshd_authorize(const char *root_dir, const char *key, struct bg_error *err);

/* The guest's ssh host keys under root_dir, a prefix as above
 * (root_dir/etc/ssh/ssh_host_{ed25519,ecdsa,rsa} _key.pub), without their comments, as a new JSON
 * array of "TYPE BASE64" strings. -ENOENT with err when there is none; a file that is not a key is
 * skipped. */
int bg_sshd_host_keys(const char *root_dir, json_t **ret, struct bg_error *err);
