/* SPDX-License-Identifier: MIT */
/* Short guest commands for the file transfers, and the messages of guest commands. */
#include "files/guest.h"

#include <errno.h>
#include <string.h>

#include "banger/timefmt.h"

#define KILL_GRACE_MS 5000 /* after SIGKILL, how long the guest may take to end the command */

bool bg_files_cancelled(const struct bg_files_cancel *c)
{
    return c && c->fn && c->fn(c->cls);
}

void bg_files_msg_add(struct bg_files_msg *m, const char *buf, size_t len)
{
    size_t room = sizeof(m->text) - 1 - m->len;
    size_t n = len < room ? len : room; /* bg_error_set makes the message UTF-8 */

    memcpy(m->text + m->len, buf, n);
    m->len += n;
    m->text[m->len] = '\0';
}

const char *bg_files_msg_text(struct bg_files_msg *m)
{
    for (size_t i = 0; i < m->len; i++)
        if (m->text[i] == '\n' || m->text[i] == '\r')
            m->text[i] = ' ';
    while (m->len > 0 && m->text[m->len - 1] == ' ')
        m->text[--m->len] = '\0';
    return m->len ? m->text : "no message";
}

/* Read the command's output to its end, killing it at the deadline or on the cancel. */
static int drain(struct bg_agent_session *s, const struct bg_files_cancel *cancel,
                 struct bg_files_msg *msg, struct bg_error *err)
{
    int64_t deadline = bg_now_ms() + BG_FILES_GUEST_CMD_MS;
    int64_t killed_at = 0;
    int why = 0;
    char buf[4096];

    for (;;) {
        int stream = 0;
        ssize_t n = bg_agent_session_read(s, &stream, buf, sizeof(buf),
                                          bg_now_ms() + BG_FILES_POLL_MS, err);
        if (n > 0) {
            bg_files_msg_add(msg, buf, (size_t)n);
            continue;
        }
        if (n == 0)
            return why;
        if (n != -ETIMEDOUT)
            return (int)n;
        if (killed_at && bg_now_ms() - killed_at >= KILL_GRACE_MS)
            return bg_error_set(err, -ETIMEDOUT, "the guest did not end a killed command");
        if (!killed_at && (bg_files_cancelled(cancel) || bg_now_ms() >= deadline)) {
            why = bg_files_cancelled(cancel) ? -ECANCELED : -ETIMEDOUT;
            (void)bg_agent_session_signal(s, BG_FILES_SIGKILL, NULL);
            killed_at = bg_now_ms();
        }
    }
}

int bg_files_guest_run(struct bg_agent_conn *conn, const char *const *argv,
                       const struct bg_files_cancel *cancel, int *ret_code,
                       struct bg_files_msg *ret_msg, struct bg_error *err)
{
    struct bg_agent_exec_spec spec = {.argv = argv, .cwd = "/"};
    struct bg_agent_session *s = NULL;
    int code = -1, sig = 0;
    int r = bg_agent_exec(conn, &spec, &s, err);

    *ret_msg = (struct bg_files_msg){0};
    if (r < 0)
        return r;
    r = drain(s, cancel, ret_msg, err);
    if (r == -ECANCELED)
        (void)bg_error_set(err, r, "the client went away: '%s' in the guest was killed", argv[0]);
    else if (r == -ETIMEDOUT)
        (void)bg_error_set(err, r, "'%s' in the guest did not finish within %d ms: it was killed",
                           argv[0], BG_FILES_GUEST_CMD_MS);
    if (r == 0)
        r = bg_agent_session_wait(s, bg_now_ms() + KILL_GRACE_MS, &code, &sig, err);
    bg_agent_session_free(s);
    if (r == 0)
        *ret_code = sig ? -1 : code;
    return r;
}
