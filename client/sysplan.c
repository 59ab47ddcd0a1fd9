/* SPDX-License-Identifier: MIT */
/* The system install's plan: install.toml, the two hardened units, the directories, the
 * sysctl, modules-load and tmpfiles drop-ins, the resolver drop-in, the systemctl commands. */
#include "sysplan.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "banger/alloc.h"
#include "banger/install.h"
#include "banger/utf8.h"
#include "banger/validate.h"

/* install.toml's defaults (api/src/install.c), which the units and directories follow. */
#define RUNTIME_DIR "/run/banger"
#define STATE_DIR "/var/lib/banger"
#define CACHE_DIR "/var/cache/banger"
#define HELPER_STATE_DIR "/var/lib/banger-helper"
#define BRIDGE_ADDRESS "10.77.0.1"
#define DNS_PORT "42069"
#define UNIT_DIR "/etc/systemd/system"

/* Both units: what neither the daemon nor the helper needs. */
static const char common_hardening[] = "NoNewPrivileges=yes\n"
                                       "ProtectSystem=strict\n"
                                       "PrivateTmp=yes\n"
                                       "PrivateMounts=yes\n"
                                       "PrivateIPC=yes\n"
                                       "ProtectKernelTunables=yes\n"
                                       "ProtectKernelModules=yes\n"
                                       "ProtectKernelLogs=yes\n"
                                       "ProtectControlGroups=yes\n"
                                       "ProtectClock=yes\n"
                                       "ProtectHostname=yes\n"
                                       "RestrictSUIDSGID=yes\n"
                                       "RestrictRealtime=yes\n"
                                       "RestrictNamespaces=yes\n"
                                       "LockPersonality=yes\n"
                                       "DevicePolicy=closed\n"
                                       "DeviceAllow=/dev/kvm rw\n"
                                       "DeviceAllow=/dev/net/tun rw\n"
                                       "DeviceAllow=/dev/vhost-vsock rw\n"
                                       "SystemCallArchitectures=native\n"
                                       "SystemCallFilter=@system-service\n"
                                       "SystemCallErrorNumber=EPERM\n"
                                       "UMask=0077\n"
                                       "KeyringMode=private\n";

static char *unit_helper(const struct bg_sysplan_opts *o)
{
    return bg_asprintf(
        "# Written by 'banger system install'; 'banger system uninstall' removes it.\n"
        "[Unit]\n"
        "Description=banger root helper: bridge, taps, NAT, VMM launch (bangerd-root)\n"
        "Documentation=file:%s/share/doc/banger/privileges.md\n"
        "Before=bangerd.service\n"
        "\n"
        "[Service]\n"
        "Type=simple\n"
        "ExecStart=%s/sbin/bangerd-root --install " BG_INSTALL_FILE "\n"
        "Restart=on-failure\n"
        "# The VMMs it launches live in this unit's cgroup: stopping the helper stops them,\n"
        "# so none is left unmanaged (docs/decisions.md).\n"
        "KillMode=control-group\n"
        "CapabilityBoundingSet=CAP_NET_ADMIN CAP_KILL CAP_SETUID CAP_SETGID CAP_CHOWN\n"
        "ProtectHome=yes\n"
        "ReadWritePaths=" RUNTIME_DIR " " HELPER_STATE_DIR "\n"
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK\n"
        "# Firecracker maps guest memory read-write, never writable and executable.\n"
        "MemoryDenyWriteExecute=yes\n"
        "%s"
        "SystemCallFilter=~@resources\n"
        "\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n",
        o->prefix, o->prefix, common_hardening);
}

static char *unit_daemon(const struct bg_sysplan_opts *o)
{
    return bg_asprintf(
        "# Written by 'banger system install'; 'banger system uninstall' removes it.\n"
        "[Unit]\n"
        "Description=banger daemon: microVMs and their REST API (bangerd)\n"
        "Documentation=file:%s/share/doc/banger/privileges.md\n"
        "Wants=bangerd-root.service\n"
        "After=bangerd-root.service\n"
        "\n"
        "[Service]\n"
        "Type=simple\n"
        "User=%s\n"
        "Group=%u\n"
        "ExecStart=%s/bin/bangerd --system\n"
        "Restart=on-failure\n"
        "# Only bangerd itself is stopped: the QEMU processes it started stay, so VMs survive a\n"
        "# restart of the daemon (docs/decisions.md).\n"
        "KillMode=process\n"
        "CapabilityBoundingSet=\n"
        "AmbientCapabilities=\n"
        "ProtectHome=read-only\n"
        "ProtectProc=invisible\n"
        "ReadWritePaths=" RUNTIME_DIR " " STATE_DIR " " CACHE_DIR "\n"
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_VSOCK\n"
        "# No MemoryDenyWriteExecute: QEMU's TCG translates guest code into executable memory.\n"
        "RemoveIPC=yes\n"
        "%s"
        "SystemCallFilter=~@privileged @resources\n"
        "\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n",
        o->prefix, o->owner, (unsigned)o->gid, o->prefix, common_hardening);
}

static char *install_toml(const struct bg_sysplan_opts *o)
{
    bg_autofree char *fc =
        o->firecracker ? bg_asprintf("firecracker = \"%s\"\n", o->firecracker) : bg_strdup("");

    return bg_asprintf("# Written by 'banger system install --owner %s'; read by bangerd and "
                       "bangerd-root.\n"
                       "owner_uid = %u\n"
                       "owner_gid = %u\n"
                       "%s",
                       o->owner, (unsigned)o->uid, (unsigned)o->gid, fc);
}

static void add(struct bg_sysplan *p, enum bg_sysplan_kind kind, enum bg_sysplan_keep keep,
                const char *path, mode_t mode, uid_t uid, gid_t gid, char *content)
{
    p->entries = bg_realloc(p->entries, (p->n_entries + 1) * sizeof(*p->entries));
    p->entries[p->n_entries++] = (struct bg_sysplan_entry){
        .kind = kind,
        .keep = keep,
        .path = bg_strdup(path),
        .mode = mode,
        .uid = uid,
        .gid = gid,
        .content = content,
    };
}

static void file(struct bg_sysplan *p, const char *path, char *content)
{
    add(p, BG_SYSPLAN_FILE, BG_SYSPLAN_REMOVE, path, 0644, 0, 0, content);
}

/* A command of at most BG_SYSPLAN_ARGV_MAX words, NULL-terminated. */
static void cmd(struct bg_sysplan_cmd **v, size_t *n, ...)
{
    struct bg_sysplan_cmd c = {0};
    va_list ap;
    const char *w;
    size_t k = 0;

    va_start(ap, n);
    while ((w = va_arg(ap, const char *)) && k < BG_SYSPLAN_ARGV_MAX)
        c.argv[k++] = bg_strdup(w);
    va_end(ap);
    *v = bg_realloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = c;
}

/* The resolver drop-in and the service that must re-read it. */
static const char *resolver(struct bg_sysplan *p, enum bg_sysplan_resolver r)
{
    static const char server[] = "server=/vm/" BRIDGE_ADDRESS "#" DNS_PORT "\n";

    switch (r) {
    case BG_SYSPLAN_RESOLVER_RESOLVED:
        file(p, "/etc/systemd/resolved.conf.d/banger.conf",
             bg_strdup("# banger: names in .vm go to bangerd's DNS on the bridge\n"
                       "[Resolve]\nDNS=" BRIDGE_ADDRESS ":" DNS_PORT "\nDomains=~vm\n"));
        p->resolver_note = "systemd-resolved: .vm goes to " BRIDGE_ADDRESS ":" DNS_PORT
                           " (global DNS= with routing domain ~vm, not per-link)";
        return "systemd-resolved.service";
    case BG_SYSPLAN_RESOLVER_DNSMASQ:
        file(p, "/etc/dnsmasq.d/banger.conf", bg_strdup(server));
        p->resolver_note = "dnsmasq: .vm goes to " BRIDGE_ADDRESS "#" DNS_PORT;
        return "dnsmasq.service";
    case BG_SYSPLAN_RESOLVER_NETWORKMANAGER:
        file(p, "/etc/NetworkManager/dnsmasq.d/banger.conf", bg_strdup(server));
        p->resolver_note = "NetworkManager (dns=dnsmasq): .vm goes to " BRIDGE_ADDRESS "#" DNS_PORT;
        return "NetworkManager.service";
    case BG_SYSPLAN_RESOLVER_NONE:
        break;
    }
    p->resolver_note = "no systemd-resolved, dnsmasq or NetworkManager found: the .vm zone is "
                       "not configured (point .vm at " BRIDGE_ADDRESS ":" DNS_PORT " by hand)";
    return NULL;
}

static int opts_check(const struct bg_sysplan_opts *o, struct bg_error *err)
{
    if (!o->uid)
        return bg_error_set(err, -EINVAL, "the owner may not be root: bangerd never runs as root");
    if (!o->owner || !*o->owner ||
        strspn(o->owner, "abcdefghijklmnopqrstuvwxyz"
                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != strlen(o->owner))
        return bg_error_set(err, -EINVAL, "user name '%s' cannot go into a unit file",
                            BG_QUOTE(o->owner ? o->owner : ""));
    if (!o->prefix || bg_path_validate(o->prefix, err) < 0 || strpbrk(o->prefix, " \t\n\"'\\%$"))
        return bg_error_set(err, -EINVAL, "prefix '%s' is not an absolute, plain path",
                            BG_QUOTE(o->prefix ? o->prefix : ""));
    if (o->firecracker &&
        (bg_path_validate(o->firecracker, err) < 0 || strpbrk(o->firecracker, "\"\\\n")))
        return bg_error_set(err, -EINVAL, "firecracker path '%s' is not an absolute, plain path",
                            BG_QUOTE(o->firecracker));
    return 0;
}

int bg_sysplan_build(const struct bg_sysplan_opts *o, struct bg_sysplan *ret, struct bg_error *err)
{
    struct bg_sysplan p = {0};
    const char *reload;
    int r;

    memset(ret, 0, sizeof(*ret));
    if ((r = opts_check(o, err)) < 0)
        return r;
    add(&p, BG_SYSPLAN_DIR, BG_SYSPLAN_REMOVE, "/etc/banger", 0755, 0, 0, NULL);
    file(&p, BG_INSTALL_FILE, install_toml(o));
    add(&p, BG_SYSPLAN_DIR, BG_SYSPLAN_PURGE, HELPER_STATE_DIR, 0700, 0, 0, NULL);
    add(&p, BG_SYSPLAN_DIR, BG_SYSPLAN_PURGE, STATE_DIR, 0750, o->uid, o->gid, NULL);
    add(&p, BG_SYSPLAN_DIR, BG_SYSPLAN_PURGE, CACHE_DIR, 0750, o->uid, o->gid, NULL);
    add(&p, BG_SYSPLAN_DIR, BG_SYSPLAN_REMOVE_TREE, RUNTIME_DIR, 0750, o->uid, o->gid, NULL);
    file(&p, "/etc/tmpfiles.d/banger.conf",
         bg_asprintf("# banger: the runtime directory, again after every boot\n"
                     "d " RUNTIME_DIR " 0750 %u %u -\n",
                     (unsigned)o->uid, (unsigned)o->gid));
    file(&p, "/etc/sysctl.d/60-banger.conf",
         bg_strdup("# banger: guests with NAT reach out through the host\n"
                   "net.ipv4.ip_forward = 1\n"));
    file(&p, "/etc/modules-load.d/banger.conf",
         bg_strdup("# banger: taps, vsock to the guest agent, the NAT table\n"
                   "tun\nvhost_vsock\nnf_tables\n"));
    reload = resolver(&p, o->resolver);
    file(&p, UNIT_DIR "/bangerd-root.service", unit_helper(o));
    file(&p, UNIT_DIR "/bangerd.service", unit_daemon(o));

    cmd(&p.install_cmds, &p.n_install_cmds, "systemctl", "daemon-reload", NULL);
    cmd(&p.install_cmds, &p.n_install_cmds, "systemd-tmpfiles", "--create",
        "/etc/tmpfiles.d/banger.conf", NULL);
    cmd(&p.install_cmds, &p.n_install_cmds, "systemctl", "restart", "systemd-sysctl.service",
        "systemd-modules-load.service", NULL);
    if (reload)
        cmd(&p.install_cmds, &p.n_install_cmds, "systemctl", "try-reload-or-restart", reload, NULL);
    cmd(&p.install_cmds, &p.n_install_cmds, "systemctl", "enable", "--now", "bangerd-root.service",
        "bangerd.service", NULL);
    cmd(&p.uninstall_cmds, &p.n_uninstall_cmds, "systemctl", "disable", "--now", "bangerd.service",
        "bangerd-root.service", NULL);
    cmd(&p.uninstall_cmds, &p.n_uninstall_cmds, "systemctl", "daemon-reload", NULL);
    if (reload)
        cmd(&p.uninstall_cmds, &p.n_uninstall_cmds, "systemctl", "try-reload-or-restart", reload,
            NULL);
    *ret = p;
    return 0;
}

static void cmds_free(struct bg_sysplan_cmd *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; v[i].argv[k]; k++)
            free(v[i].argv[k]);
    free(v);
}

void bg_sysplan_done(struct bg_sysplan *p)
{
    for (size_t i = 0; i < p->n_entries; i++) {
        free(p->entries[i].path);
        free(p->entries[i].content);
    }
    free(p->entries);
    cmds_free(p->install_cmds, p->n_install_cmds);
    cmds_free(p->uninstall_cmds, p->n_uninstall_cmds);
    memset(p, 0, sizeof(*p));
}

const struct bg_sysplan_entry *bg_sysplan_find(const struct bg_sysplan *p, const char *path)
{
    for (size_t i = 0; i < p->n_entries; i++)
        if (!strcmp(p->entries[i].path, path))
            return &p->entries[i];
    return NULL;
}
