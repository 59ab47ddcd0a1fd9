/* SPDX-License-Identifier: MIT */
/* mmdebstrap for dev images: mode, argv, progress. */
#include "image/mmdeb.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/parse.h"
#include "host/fileio.h"
#include "host/run.h"

#define SUBID_FILE_MAX (1u << 20)
#define SUBID_SUGGEST_START UINT64_C(100000)

/* ---- the mode ---- */

/* One "NAME:START:COUNT" line: whether it is well formed, and its fields. */
static bool subid_line(const char *line, size_t n, char *owner, size_t owner_size,
                       uint64_t *ret_start, uint64_t *ret_count)
{
    bg_autofree char *copy = bg_strndup(line, n);
    char *c1 = strchr(copy, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

    if (!c1 || !c2 || c1 == copy || strchr(c2 + 1, ':') || (size_t)(c1 - copy) >= owner_size)
        return false;
    *c1 = *c2 = '\0';
    if (bg_parse_u64(c1 + 1, 0, UINT32_MAX, ret_start, NULL) < 0 ||
        bg_parse_u64(c2 + 1, 1, UINT32_MAX, ret_count, NULL) < 0)
        return false;
    snprintf(owner, owner_size, "%s", copy);
    return true;
}

uint64_t bg_mmdeb_subid_count(const char *text, const char *user, uid_t uid)
{
    char uid_text[24];

    snprintf(uid_text, sizeof(uid_text), "%u", (unsigned)uid);
    for (const char *p = text ? text : ""; *p;) {
        size_t n = strcspn(p, "\n");
        char owner[256];
        uint64_t start, count;
        if (subid_line(p, n, owner, sizeof(owner), &start, &count) &&
            ((user && *user && !strcmp(owner, user)) || !strcmp(owner, uid_text)))
            return count;
        p += n + (p[n] == '\n');
    }
    return 0;
}

/* The first id at or above SUBID_SUGGEST_START past every range of text, a multiple of
 * 65536 (a free range to suggest). */
static uint64_t subid_free_start(const char *text, uint64_t start)
{
    for (const char *p = text ? text : ""; *p;) {
        size_t n = strcspn(p, "\n");
        char owner[256];
        uint64_t s, c;
        if (subid_line(p, n, owner, sizeof(owner), &s, &c) && s + c > start)
            start = (s + c + 65535) / 65536 * 65536;
        p += n + (p[n] == '\n');
    }
    return start;
}

static void need(char **list, const char *what)
{
    char *next = bg_asprintf("%s%s%s", *list, **list ? "; " : "", what);

    free(*list);
    *list = next;
}

int bg_mmdeb_choose(const struct bg_mmdeb_host *h, enum bg_mmdeb_mode *ret, struct bg_error *err)
{
    const char *user = h->user && *h->user ? h->user : NULL;
    bg_autofree char *missing = bg_strdup("");
    bg_autofree char *who = user ? bg_asprintf("%s (uid %u)", user, (unsigned)h->euid)
                                 : bg_asprintf("uid %u", (unsigned)h->euid);

    if (!h->have_mmdebstrap)
        return bg_error_set(err, -ENOENT,
                            "a dev image is made with mmdebstrap, which is not installed; as "
                            "root run: apt-get install mmdebstrap uidmap");
    if (h->euid == 0) {
        *ret = BG_MMDEB_MODE_ROOT;
        return 0;
    }
    if (!h->have_newuidmap)
        need(&missing, "newuidmap and newgidmap (as root: apt-get install uidmap)");
    if (bg_mmdeb_subid_count(h->subuid, user, h->euid) < BG_MMDEB_SUBIDS_MIN ||
        bg_mmdeb_subid_count(h->subgid, user, h->euid) < BG_MMDEB_SUBIDS_MIN) {
        uint64_t s = subid_free_start(h->subgid, subid_free_start(h->subuid, SUBID_SUGGEST_START));
        bg_autofree char *what = bg_asprintf(
            "at least %d subordinate user and group ids for %s in /etc/subuid and /etc/subgid "
            "(as root: usermod --add-subuids %llu-%llu --add-subgids %llu-%llu %s)",
            BG_MMDEB_SUBIDS_MIN, who, (unsigned long long)s,
            (unsigned long long)(s + BG_MMDEB_SUBIDS_MIN - 1), (unsigned long long)s,
            (unsigned long long)(s + BG_MMDEB_SUBIDS_MIN - 1), user ? user : "USER");
        need(&missing, what);
    }
    if (h->max_user_namespaces == 0)
        need(&missing, "user namespaces, which the kernel limits to 0 (as root: sysctl -w "
                       "user.max_user_namespaces=15000)");
    if (h->userns_clone == 0)
        need(&missing, "unprivileged user namespaces, which this kernel turns off (as root: "
                       "sysctl -w kernel.unprivileged_userns_clone=1)");
    if (h->apparmor_restrict_userns > 0)
        need(&missing, "AppArmor to let unprivileged users create user namespaces (as root: "
                       "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0)");
    if (*missing)
        return bg_error_set(err, -EPERM,
                            "bangerd runs as %s, so mmdebstrap builds the dev image in a user "
                            "namespace (unshare mode), which needs %s; or run bangerd as root",
                            who, missing);
    *ret = BG_MMDEB_MODE_UNSHARE;
    return 0;
}

static long read_sysctl(const char *path)
{
    bg_autofree char *text = NULL;
    size_t len;
    uint64_t v;

    if (bg_file_read(path, 64, &text, &len, NULL) < 0)
        return -1;
    text[strcspn(text, "\n")] = '\0';
    return bg_parse_u64(text, 0, INT32_MAX, &v, NULL) < 0 ? -1 : (long)v;
}

static bool have_program(const char *name)
{
    bg_autofree char *path = NULL;

    return bg_run_find_program(name, &path, NULL) == 0;
}

void bg_mmdeb_host_probe(struct bg_mmdeb_host *h, char **ret_keep)
{
    char *subuid = NULL, *subgid = NULL;
    struct passwd pw, *found = NULL;
    char buf[4096];
    size_t len;

    memset(h, 0, sizeof(*h));
    h->euid = geteuid();
    h->have_mmdebstrap = have_program("mmdebstrap");
    h->have_newuidmap = have_program("newuidmap") && have_program("newgidmap");
    if (bg_file_read("/etc/subuid", SUBID_FILE_MAX, &subuid, &len, NULL) < 0)
        subuid = NULL;
    if (bg_file_read("/etc/subgid", SUBID_FILE_MAX, &subgid, &len, NULL) < 0)
        subgid = NULL;
    h->max_user_namespaces = read_sysctl("/proc/sys/user/max_user_namespaces");
    h->userns_clone = read_sysctl("/proc/sys/kernel/unprivileged_userns_clone");
    h->apparmor_restrict_userns =
        read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
    const char *name =
        getpwuid_r(h->euid, &pw, buf, sizeof(buf), &found) == 0 && found ? found->pw_name : "";
    /* one allocation for every string: name, subuid, subgid */
    size_t nl = strlen(name) + 1, ul = subuid ? strlen(subuid) + 1 : 0,
           gl = subgid ? strlen(subgid) + 1 : 0;
    char *keep = bg_malloc(nl + ul + gl);
    memcpy(keep, name, nl);
    h->user = keep;
    if (subuid) {
        memcpy(keep + nl, subuid, ul);
        h->subuid = keep + nl;
    }
    if (subgid) {
        memcpy(keep + nl + ul, subgid, gl);
        h->subgid = keep + nl + ul;
    }
    free(subuid);
    free(subgid);
    *ret_keep = keep;
}

/* ---- argv ---- */

/* s quoted for the shellwords that mmdebstrap applies to its special hooks. */
static char *shell_quote(const char *s)
{
    char *out = bg_strdup("'");

    for (const char *p = s; *p; p++) {
        char *next = *p == '\'' ? bg_asprintf("%s'\"'\"'", out) : bg_asprintf("%s%c", out, *p);
        free(out);
        out = next;
    }
    char *next = bg_asprintf("%s'", out);
    free(out);
    return next;
}

char **bg_mmdeb_argv(const struct bg_mmdeb_plan *p)
{
    bg_autofree char *in = shell_quote(p->debs_in), *out = shell_quote(p->debs_out);
    char **argv = bg_calloc(32, sizeof(char *));
    size_t n = 0;

    argv[n++] = bg_strdup("mmdebstrap");
    argv[n++] = bg_strdup("--mode=unshare");
    argv[n++] = bg_strdup("--variant=minbase");
    argv[n++] = bg_strdup("--format=tar");
    argv[n++] = bg_strdup("--verbose");
    argv[n++] = bg_asprintf("--include=%s", p->include);
    argv[n++] = bg_strdup("--aptopt=Acquire::Retries \"3\"");
    /* the cache: what is in debs_in is used, and kept (not unlinked) for debs_out */
    argv[n++] = bg_strdup("--skip=download/empty");
    argv[n++] = bg_strdup("--skip=essential/unlink");
    argv[n++] = bg_strdup("--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives/");
    argv[n++] = bg_asprintf("--setup-hook=sync-in %s /var/cache/apt/archives/", in);
    argv[n++] = bg_asprintf("--customize-hook=sync-out /var/cache/apt/archives %s", out);
    /* what would differ between two builds, two hosts or the two ways mmdebstrap runs: apt
     * gives its partial directories to _apt only in a user namespace, and touches them only
     * when it downloads (not when the cache has every package) */
    argv[n++] = bg_strdup("--customize-hook=chroot \"$1\" chown _apt:root "
                          "/var/cache/apt/archives/partial /var/lib/apt/lists/partial && touch -d "
                          "\"@$SOURCE_DATE_EPOCH\" \"$1\"/var/cache/apt/archives/partial "
                          "\"$1\"/var/lib/apt/lists/partial");
    argv[n++] = bg_strdup("--customize-hook=rm -f \"$1\"/etc/ssh/ssh_host_*_key "
                          "\"$1\"/etc/ssh/ssh_host_*_key.pub");
    argv[n++] = bg_strdup("--customize-hook=: >\"$1\"/etc/resolv.conf && echo localhost "
                          ">\"$1\"/etc/hostname && printf '127.0.0.1 localhost\\n::1 localhost "
                          "ip6-localhost ip6-loopback\\n' >\"$1\"/etc/hosts");
    argv[n++] = bg_strdup(p->suite);
    argv[n++] = bg_strdup(p->output);
    /* every sources line is its own argument: mmdebstrap writes them to sources.list */
    for (const char *s = p->sources; *s && n < 31;) {
        size_t len = strcspn(s, "\n");
        if (len)
            argv[n++] = bg_strndup(s, len);
        s += len + (s[len] == '\n');
    }
    return argv;
}

/* ---- progress ---- */

static const char *const phase_names[BG_MMDEB_PHASE_COUNT_] = {
    [BG_MMDEB_PHASE_SETUP] = "set up",
    [BG_MMDEB_PHASE_UPDATE] = "apt-get update",
    [BG_MMDEB_PHASE_DOWNLOAD] = "download packages",
    [BG_MMDEB_PHASE_EXTRACT] = "extract essential packages",
    [BG_MMDEB_PHASE_UNPACK] = "unpack packages",
    [BG_MMDEB_PHASE_CONFIGURE] = "set up packages",
    [BG_MMDEB_PHASE_CUSTOMIZE] = "customize",
    [BG_MMDEB_PHASE_PACK] = "pack the tree",
};

const char *bg_mmdeb_phase_name(enum bg_mmdeb_phase ph)
{
    return ph < BG_MMDEB_PHASE_COUNT_ ? phase_names[ph] : "?";
}

int bg_mmdeb_size_parse(const char *s, uint64_t *ret)
{
    static const struct {
        const char *unit;
        uint64_t mul;
    } units[] = {{"B", 1}, {"kB", 1000}, {"MB", 1000000}, {"GB", 1000000000}};
    uint64_t whole = 0, frac = 0, frac_div = 1;
    const char *p = s;

    if (*p < '0' || *p > '9')
        return -EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (whole > UINT64_C(1) << 40)
            return -EINVAL;
        whole = whole * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++)
            if (frac_div < 1000000) {
                frac = frac * 10 + (uint64_t)(*p - '0');
                frac_div *= 10;
            }
    }
    if (*p++ != ' ')
        return -EINVAL;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (!strcmp(p, units[i].unit)) {
            *ret = whole * units[i].mul + frac * units[i].mul / frac_div;
            return 0;
        }
    return -EINVAL;
}

static bool starts(const char *s, const char *prefix)
{
    return !strncmp(s, prefix, strlen(prefix));
}

static void set_phase(struct bg_mmdeb_progress *p, enum bg_mmdeb_phase ph)
{
    if (p->phase == ph)
        return;
    p->phase = ph;
    p->changed = true;
}

/* "Get:12 http://... pkg amd64 1.2-3 [37.6 kB]": the size in brackets at the end. */
static void get_line(struct bg_mmdeb_progress *p, const char *line)
{
    const char *open = strrchr(line, '[');
    size_t n = strlen(line);
    uint64_t size;

    if (p->phase != BG_MMDEB_PHASE_DOWNLOAD || !open || n < 2 || line[n - 1] != ']')
        return;
    bg_autofree char *inner = bg_strndup(open + 1, (size_t)(line + n - 1 - open - 1));
    if (bg_mmdeb_size_parse(inner, &size) < 0)
        return;
    p->bytes_done += size;
    p->bytes_fetched += size;
    p->changed = true;
}

/* "Need to get 91.7 MB of archives." or "Need to get 0 B/91.7 MB of archives." */
static void need_line(struct bg_mmdeb_progress *p, const char *line)
{
    const char *v = line + strlen("Need to get ");
    size_t n = strcspn(v, "/");
    const char *end = strstr(v, " of archives.");
    uint64_t size;

    if (!end)
        return;
    if ((size_t)(end - v) < n)
        n = (size_t)(end - v);
    bg_autofree char *first = bg_strndup(v, n);
    if (bg_mmdeb_size_parse(first, &size) < 0)
        return;
    set_phase(p, BG_MMDEB_PHASE_DOWNLOAD);
    p->bytes_done = 0;
    p->bytes_total = size;
    p->changed = true;
}

/* "0 upgraded, 94 newly installed, 0 to remove and 0 not upgraded." */
static void installed_line(struct bg_mmdeb_progress *p, const char *line)
{
    const char *m = strstr(line, " upgraded, ");
    uint64_t v;

    if (!m)
        return;
    m += strlen(" upgraded, ");
    size_t n = strspn(m, "0123456789");
    if (!n || strncmp(m + n, " newly installed", 16) != 0)
        return;
    bg_autofree char *num = bg_strndup(m, n);
    if (bg_parse_u64(num, 0, 1000000, &v, NULL) == 0) {
        p->pkgs_total = (unsigned)v;
        p->unpacked = p->configured = 0;
        p->changed = true;
    }
}

void bg_mmdeb_progress_line(struct bg_mmdeb_progress *p, const char *line)
{
    static const struct {
        const char *prefix;
        enum bg_mmdeb_phase phase;
    } info[] = {
        {"I: running apt-get update", BG_MMDEB_PHASE_UPDATE},
        {"I: downloading packages", BG_MMDEB_PHASE_DOWNLOAD},
        {"I: extracting archives", BG_MMDEB_PHASE_EXTRACT},
        {"I: installing essential packages", BG_MMDEB_PHASE_UNPACK},
        {"I: installing remaining packages", BG_MMDEB_PHASE_DOWNLOAD},
        {"I: running --customize-hook", BG_MMDEB_PHASE_CUSTOMIZE},
        {"I: running special hook: sync-out", BG_MMDEB_PHASE_CUSTOMIZE},
        {"I: creating tarball", BG_MMDEB_PHASE_PACK},
    };

    for (size_t i = 0; i < sizeof(info) / sizeof(info[0]); i++)
        if (starts(line, info[i].prefix)) {
            set_phase(p, info[i].phase);
            return;
        }
    if (starts(line, "Get:"))
        get_line(p, line);
    else if (starts(line, "Need to get "))
        need_line(p, line);
    else if (strstr(line, " newly installed, "))
        installed_line(p, line);
    else if (starts(line, "Unpacking ")) {
        set_phase(p, BG_MMDEB_PHASE_UNPACK);
        p->unpacked++;
        p->changed = true;
    } else if (starts(line, "Setting up ")) {
        set_phase(p, BG_MMDEB_PHASE_CONFIGURE);
        p->configured++;
        p->changed = true;
    }
}

void bg_mmdeb_feed(struct bg_mmdeb_progress *p, const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n' || buf[i] == '\r') {
            p->line[p->line_len] = '\0';
            if (p->line_len)
                bg_mmdeb_progress_line(p, p->line);
            p->line_len = 0;
            p->line_cut = false;
        } else if (p->line_len < BG_MMDEB_LINE_MAX) {
            p->line[p->line_len++] = buf[i] ? buf[i] : ' ';
        } else {
            p->line_cut = true;
        }
    }
}
