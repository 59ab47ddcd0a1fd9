/* SPDX-License-Identifier: MIT */
/* The operations of bangerd-root and the reconcile of its own objects. */
#include "ops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "link.h"
#include "nat.h"
#include "validate.h"
#include "vmm.h"

static int save(struct bg_helperd *h, struct bg_error *err)
{
    return bg_hstate_save(&h->state, err);
}

/* The table from the record: present while the bridge is. */
static int nat_sync(struct bg_helperd *h, struct bg_error *err)
{
    if (!h->state.bridge)
        return bg_nat_run(bg_nat_render_delete(), err);
    bg_autofree char *script = bg_nat_render(h->in, h->state.guests, h->state.n_guests);
    return bg_nat_run(script, err);
}

static void address_fill(const struct bg_install *in, struct bg_helper_reply *ret)
{
    snprintf(ret->bridge, sizeof(ret->bridge), "%s", in->bridge);
    bg_install_cidr(in->subnet + 1, in->prefix, ret->address, sizeof(ret->address));
}

static int op_bridge_ensure(struct bg_helperd *h, struct bg_helper_reply *ret, struct bg_error *err)
{
    int r = bg_link_bridge_ensure(h->in, err);

    if (r < 0)
        return r;
    h->state.bridge = true;
    if ((r = save(h, err)) < 0 || (r = nat_sync(h, err)) < 0)
        return r;
    address_fill(h->in, ret);
    return 0;
}

static int op_tap_create(struct bg_helperd *h, const char *vm, struct bg_helper_reply *ret,
                         struct bg_error *err)
{
    char tap[BG_HELPER_TAP_LEN + 1];
    int r;

    if (!h->state.bridge)
        return bg_error_set(err, -ENOENT, "the bridge is not there yet (bridge_ensure first)");
    bg_helper_tap_name(vm, tap, sizeof(tap));
    for (size_t i = 0; i < h->state.n_taps; i++)
        if (!strcmp(h->state.taps[i].tap, tap) && strcmp(h->state.taps[i].vm, vm))
            return bg_error_set(err, -EEXIST, "tap %s is VM '%s''s", tap, h->state.taps[i].vm);
    /* recorded first: a helper killed in between finds the tap and deletes it */
    if (!bg_hstate_tap_find(&h->state, vm) &&
        ((r = bg_hstate_tap_add(&h->state, vm, tap, err)) < 0 || (r = save(h, err)) < 0))
        return r;
    if ((r = bg_link_tap_create(h->in, tap, err)) < 0) {
        (void)bg_link_tap_delete(tap, NULL);
        bg_hstate_tap_remove(&h->state, vm);
        (void)save(h, NULL);
        return r;
    }
    snprintf(ret->tap, sizeof(ret->tap), "%s", tap);
    return 0;
}

static int op_tap_delete(struct bg_helperd *h, const char *vm, struct bg_error *err)
{
    char tap[BG_HELPER_TAP_LEN + 1];
    int r;

    bg_helper_tap_name(vm, tap, sizeof(tap));
    if ((r = bg_link_tap_delete(tap, err)) < 0)
        return r;
    bg_hstate_tap_remove(&h->state, vm);
    return save(h, err);
}

static int op_nat_apply(struct bg_helperd *h, const struct bg_helper_request *r,
                        struct bg_error *err)
{
    int rc;

    if (!h->state.bridge)
        return bg_error_set(err, -ENOENT, "the bridge is not there yet (bridge_ensure first)");
    bg_autofree char *script = bg_nat_render(h->in, r->guests, r->n_guests);
    if ((rc = bg_nat_run(script, err)) < 0)
        return rc;
    bg_hstate_guests_set(&h->state, r->guests, r->n_guests);
    return save(h, err);
}

/* The recorded VMMs as the pid checks take them. */
static struct bg_hv_launched *launched(const struct bg_helperd *h)
{
    struct bg_hv_launched *l = bg_calloc(h->state.n_vmms + 1, sizeof(*l));

    for (size_t i = 0; i < h->state.n_vmms; i++)
        l[i] = (struct bg_hv_launched){h->state.vmms[i].pid, h->state.vmms[i].start_time};
    return l;
}

static int pid_open(struct bg_helperd *h, const struct bg_helper_request *r, int *ret_fd,
                    struct bg_error *err)
{
    bg_autofree struct bg_hv_launched *l = launched(h);
    return bg_hv_vmm_pid(h->in, (pid_t)r->pid, r->start_time, h->self, h->cgroup, l,
                         h->state.n_vmms, ret_fd, err);
}

static void vmm_forget(struct bg_helperd *h, pid_t pid, uint64_t start_time)
{
    for (size_t i = 0; i < h->state.n_vmms; i++)
        if (h->state.vmms[i].pid == pid && h->state.vmms[i].start_time == start_time) {
            bg_hstate_vmm_remove(&h->state, i);
            (void)save(h, NULL);
            return;
        }
}

static int op_vmm_launch(struct bg_helperd *h, const struct bg_helper_request *r,
                         struct bg_helper_reply *ret, int *ret_fd, struct bg_error *err)
{
    pid_t pid;
    uint64_t st;
    int rc = bg_hvmm_launch(h->in, r, &pid, &st, ret_fd, err);

    if (rc < 0)
        return rc;
    if ((rc = bg_hstate_vmm_add(&h->state, r->vm, pid, st, err)) < 0 || (rc = save(h, err)) < 0) {
        bool gone;
        (void)bg_hvmm_kill(*ret_fd, &gone, NULL);
        (void)close(*ret_fd);
        *ret_fd = -1;
        return rc;
    }
    ret->pid = pid;
    ret->start_time = st;
    return 0;
}

static int op_vmm_signal(struct bg_helperd *h, const struct bg_helper_request *r,
                         struct bg_error *err)
{
    bg_autoclose int fd = -1;
    int sig, rc;

    if ((rc = bg_hv_signal(r->signal, &sig, err)) < 0 || (rc = pid_open(h, r, &fd, err)) < 0)
        return rc;
    return bg_hvmm_signal(fd, sig, err);
}

static int op_vmm_kill(struct bg_helperd *h, const struct bg_helper_request *r,
                       struct bg_helper_reply *ret, struct bg_error *err)
{
    bg_autoclose int fd = -1;
    int rc = pid_open(h, r, &fd, err);

    if (rc == -ESRCH) {
        vmm_forget(h, (pid_t)r->pid, r->start_time);
        ret->exited = true;
        return 0;
    }
    if (rc < 0 || (rc = bg_hvmm_kill(fd, &ret->exited, err)) < 0)
        return rc;
    if (ret->exited)
        vmm_forget(h, (pid_t)r->pid, r->start_time);
    return 0;
}

static bool name_in(const char (*vms)[BG_NAME_MAX + 1], size_t n, const char *vm)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(vms[i], vm))
            return true;
    return false;
}

/* Kill and forget the recorded VMMs of VMs not in vms (n); forget those that are gone. */
static uint32_t vmms_reconcile(struct bg_helperd *h, const char (*vms)[BG_NAME_MAX + 1], size_t n,
                               bool all_known)
{
    uint32_t killed = 0;

    for (size_t i = h->state.n_vmms; i-- > 0;) {
        struct bg_hstate_vmm *v = &h->state.vmms[i];
        bg_autoclose int fd = -1;
        bool gone = false;
        if (bg_proc_pidfd_open(v->pid, v->start_time, &fd, NULL) < 0)
            gone = true;
        else if (!all_known && !name_in(vms, n, v->vm) && bg_hvmm_kill(fd, &gone, NULL) == 0 &&
                 gone) {
            bg_log_info("reconcile: killed VMM of '%s' (pid %d), no VM of that name", v->vm,
                        (int)v->pid);
            killed++;
        }
        if (gone)
            bg_hstate_vmm_remove(&h->state, i);
    }
    return killed;
}

/* Delete taps with banger's prefix that are not recorded (all_known) or whose VM is not in
 * vms (n), with their records. */
static uint32_t taps_reconcile(struct bg_helperd *h, const char (*vms)[BG_NAME_MAX + 1], size_t n,
                               bool all_known)
{
    char(*links)[BG_HELPER_TAP_LEN + 1] = NULL;
    size_t nl = 0;
    uint32_t removed = 0;
    struct bg_error e;

    for (size_t i = h->state.n_taps; i-- > 0;)
        if (!all_known && !name_in(vms, n, h->state.taps[i].vm))
            bg_hstate_tap_remove(&h->state, h->state.taps[i].vm);
    if (bg_link_taps_list(&links, &nl, &e) < 0) {
        bg_log_warn("reconcile: %s", e.msg);
        return 0;
    }
    for (size_t i = 0; i < nl; i++) {
        bool owned = false;
        for (size_t j = 0; j < h->state.n_taps && !owned; j++)
            owned = !strcmp(h->state.taps[j].tap, links[i]);
        if (owned)
            continue;
        if (bg_link_tap_delete(links[i], &e) < 0)
            bg_log_warn("reconcile: %s", e.msg);
        else {
            bg_log_info("reconcile: deleted tap '%s', which no VM owns", links[i]);
            removed++;
        }
    }
    free(links);
    return removed;
}

/* Drop the NAT guests of VMs not in vms. */
static void guests_reconcile(struct bg_helperd *h, const char (*vms)[BG_NAME_MAX + 1], size_t n)
{
    size_t k = 0;

    for (size_t i = 0; i < h->state.n_guests; i++)
        if (name_in(vms, n, h->state.guests[i].vm))
            h->state.guests[k++] = h->state.guests[i];
    h->state.n_guests = k;
}

static int op_reconcile(struct bg_helperd *h, const struct bg_helper_request *r,
                        struct bg_helper_reply *ret, struct bg_error *err)
{
    int rc;

    ret->killed = vmms_reconcile(h, r->vms, r->n_vms, false);
    ret->removed = taps_reconcile(h, r->vms, r->n_vms, false);
    guests_reconcile(h, r->vms, r->n_vms);
    if ((rc = save(h, err)) < 0)
        return rc;
    return nat_sync(h, err);
}

static int op_teardown(struct bg_helperd *h, struct bg_error *err)
{
    int rc;

    if (h->state.n_taps)
        return bg_error_set(err, -EBUSY, "%zu taps remain (delete them first)", h->state.n_taps);
    if ((rc = bg_nat_run(bg_nat_render_delete(), err)) < 0 ||
        (rc = bg_link_bridge_delete(h->in, err)) < 0)
        return rc;
    h->state.bridge = false;
    bg_hstate_guests_set(&h->state, NULL, 0);
    return save(h, err);
}

int bg_helperd_start_reconcile(struct bg_helperd *h, struct bg_error *err)
{
    int rc;

    (void)vmms_reconcile(h, NULL, 0, true);
    uint32_t removed = taps_reconcile(h, NULL, 0, true);
    if (h->state.bridge && (rc = bg_link_bridge_ensure(h->in, err)) < 0)
        return rc;
    if ((rc = save(h, err)) < 0 || (rc = nat_sync(h, err)) < 0)
        return rc;
    bg_log_info("reconcile: %zu taps, %zu NAT guests, %zu VMMs kept; %u stray taps deleted",
                h->state.n_taps, h->state.n_guests, h->state.n_vmms, removed);
    return 0;
}

static int dispatch(struct bg_helperd *h, const struct bg_helper_request *r,
                    struct bg_helper_reply *ret, int *ret_fd, struct bg_error *err)
{
    switch (r->op) {
    case BG_HELPER_OP_HELLO:
        ret->version = BG_HELPER_PROTO_VERSION;
        ret->owner_uid = (uint32_t)h->in->owner_uid;
        address_fill(h->in, ret);
        return 0;
    case BG_HELPER_OP_BRIDGE_ENSURE:
        return op_bridge_ensure(h, ret, err);
    case BG_HELPER_OP_TAP_CREATE:
        return op_tap_create(h, r->vm, ret, err);
    case BG_HELPER_OP_TAP_DELETE:
        return op_tap_delete(h, r->vm, err);
    case BG_HELPER_OP_NAT_APPLY:
        return op_nat_apply(h, r, err);
    case BG_HELPER_OP_VMM_LAUNCH:
        return op_vmm_launch(h, r, ret, ret_fd, err);
    case BG_HELPER_OP_VMM_SIGNAL:
        return op_vmm_signal(h, r, err);
    case BG_HELPER_OP_VMM_KILL:
        return op_vmm_kill(h, r, ret, err);
    case BG_HELPER_OP_RECONCILE:
        return op_reconcile(h, r, ret, err);
    case BG_HELPER_OP_TEARDOWN:
        return op_teardown(h, err);
    case BG_HELPER_OP_COUNT:
        break;
    }
    return bg_error_set(err, -EINVAL, "unknown operation");
}

/* What the audit line names: the VM, or the pid. */
static void subject(const struct bg_helper_request *r, char *buf, size_t len)
{
    if (r->vm[0])
        snprintf(buf, len, " vm '%s'", r->vm);
    else if (r->op == BG_HELPER_OP_VMM_SIGNAL)
        snprintf(buf, len, " pid %lld signal %s", (long long)r->pid, r->signal);
    else if (r->op == BG_HELPER_OP_VMM_KILL)
        snprintf(buf, len, " pid %lld", (long long)r->pid);
    else
        buf[0] = '\0';
}

void bg_helperd_handle(struct bg_helperd *h, uid_t peer, const struct bg_helper_request *r,
                       struct bg_helper_reply *ret, int *ret_fd)
{
    const char *op = bg_helper_op_name(r->op);
    struct bg_error err;
    char subj[160];
    int rc;

    memset(ret, 0, sizeof(*ret));
    *ret_fd = -1;
    if ((rc = bg_hv_request(h->in, r, &err)) == 0)
        rc = dispatch(h, r, ret, ret_fd, &err);
    subject(r, subj, sizeof(subj));
    if (rc < 0) {
        ret->code = rc;
        snprintf(ret->message, sizeof(ret->message), "%s", err.msg);
        bg_log_warn("%s%s for uid %u: refused: %s", op, subj, (unsigned)peer, err.msg);
        return;
    }
    if (r->op == BG_HELPER_OP_VMM_LAUNCH)
        bg_log_info("%s%s for uid %u: pid %lld", op, subj, (unsigned)peer, (long long)ret->pid);
    else
        bg_log_info("%s%s for uid %u: done", op, subj, (unsigned)peer);
}
