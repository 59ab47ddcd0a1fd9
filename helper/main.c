/* SPDX-License-Identifier: MIT */
/* bangerd-root: read install.toml, drop to the helper's capabilities, reconcile what it owns,
 * serve the owner's bangerd on its socket until SIGTERM. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "banger/install.h"
#include "banger/log.h"
#include "caps.h"
#include "ops.h"
#include "server.h"

static const char usage[] =
    "usage: bangerd-root [--install PATH] [--log-level LEVEL] [--help] [--version]\n"
    "\n"
    "  --install PATH     the system install's file (default " BG_INSTALL_FILE ")\n"
    "  --log-level LEVEL  error, warn, info or debug (default: info)\n";

struct args {
    const char *install;
    const char *log_level;
};

/* 0 to run, 1 done (help, version), 2 usage error. */
static int args_parse(int argc, char **argv, struct args *a)
{
    for (int i = 1; i < argc; i++) {
        const char **slot = !strcmp(argv[i], "--install")     ? &a->install
                            : !strcmp(argv[i], "--log-level") ? &a->log_level
                                                              : NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return 1;
        }
        if (!strcmp(argv[i], "--version")) {
            printf("bangerd-root %s\n", BANGER_VERSION);
            return 1;
        }
        if (!slot || i + 1 >= argc || *slot) {
            fprintf(stderr, "bangerd-root: bad or repeated argument '%s'\n%s", argv[i], usage);
            return 2;
        }
        *slot = argv[++i];
    }
    return 0;
}

static int run(const struct bg_install *in, struct bg_error *err)
{
    struct bg_helperd h = {.in = in, .self = getpid()};
    bg_autoclose int listen_fd = -1;
    sigset_t stop;
    int r;

    if (bg_proc_cgroup(h.self, h.cgroup, sizeof(h.cgroup)) < 0)
        snprintf(h.cgroup, sizeof(h.cgroup), "/");
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigprocmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* the socket is given to the owner before CAP_CHOWN goes */
    if ((r = bg_hserver_listen(in->helper_socket, in->owner_uid, in->owner_gid, &listen_fd, err)) <
        0)
        return r;
    if ((r = bg_caps_drop(in->jailer != NULL, err)) < 0)
        return r;
    if ((r = bg_hstate_open(in->helper_state_dir, &h.state, err)) < 0)
        return r;
    if ((r = bg_helperd_start_reconcile(&h, err)) == 0) {
        bg_log_info("serve uid %u on '%s' (install %s, bridge %s, pid %d, capabilities %s)",
                    (unsigned)in->owner_uid, in->helper_socket, in->path, in->bridge, (int)h.self,
                    bg_caps_describe());
        r = bg_hserver_run(&h, listen_fd, &stop, err);
    }
    (void)unlink(in->helper_socket);
    bg_hstate_done(&h.state);
    return r;
}

int main(int argc, char **argv)
{
    struct args a = {0};
    struct bg_install in;
    struct bg_error err;
    enum bg_log_level level = BG_LOG_INFO;
    int r = args_parse(argc, argv, &a);

    if (r)
        return r == 1 ? 0 : 2;
    if (a.log_level && bg_log_level_parse(a.log_level, &level) < 0) {
        fprintf(stderr, "bangerd-root: --log-level '%s' is not error, warn, info or debug\n",
                a.log_level);
        return 2;
    }
    bg_log_set_level(level);
    if (bg_install_load(a.install ? a.install : BG_INSTALL_FILE, &in, &err) < 0) {
        bg_log_error("start: %s", err.msg);
        return 1;
    }
    r = run(&in, &err);
    if (r < 0)
        bg_log_error("start: %s", err.msg);
    bg_install_done(&in);
    return r < 0 ? 1 : 0;
}
