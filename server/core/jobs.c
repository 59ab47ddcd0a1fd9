/* SPDX-License-Identifier: MIT */
/* Job threads: a counter and a condition variable, so shutdown can wait with a deadline. */
#include "core/jobs.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "banger/alloc.h"
#include "banger/timefmt.h"

struct bg_jobs {
    pthread_mutex_t lock;
    pthread_cond_t idle; /* CLOCK_MONOTONIC */
    int running;
    atomic_bool cancelled;
};

struct job {
    struct bg_jobs *jobs;
    void (*fn)(void *arg);
    void *arg;
};

struct bg_jobs *bg_jobs_new(void)
{
    struct bg_jobs *j = bg_calloc(1, sizeof(*j));
    pthread_condattr_t attr;

    pthread_mutex_init(&j->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&j->idle, &attr);
    pthread_condattr_destroy(&attr);
    return j;
}

void bg_jobs_free(struct bg_jobs *j)
{
    if (!j)
        return;
    pthread_cond_destroy(&j->idle);
    pthread_mutex_destroy(&j->lock);
    free(j);
}

static void *job_main(void *p)
{
    struct job *job = p;
    struct bg_jobs *j = job->jobs;

    job->fn(job->arg);
    free(job);
    pthread_mutex_lock(&j->lock);
    j->running--;
    pthread_cond_broadcast(&j->idle);
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

int bg_jobs_spawn(struct bg_jobs *j, void (*fn)(void *arg), void *arg, struct bg_error *err)
{
    struct job *job = bg_malloc(sizeof(*job));
    pthread_attr_t attr;
    pthread_t tid;

    *job = (struct job){.jobs = j, .fn = fn, .arg = arg};
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_mutex_lock(&j->lock);
    int r = pthread_create(&tid, &attr, job_main, job);
    if (r == 0)
        j->running++;
    pthread_mutex_unlock(&j->lock);
    pthread_attr_destroy(&attr);
    if (r != 0) {
        free(job);
        return bg_error_set(err, -r, "start job thread: %s", strerror(r));
    }
    return 0;
}

bool bg_jobs_cancelled(struct bg_jobs *j)
{
    return j->cancelled;
}

int bg_jobs_cancel_wait(struct bg_jobs *j, int timeout_ms)
{
    int64_t deadline = bg_now_ms() + timeout_ms;
    struct timespec ts = {.tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000};

    j->cancelled = true;
    pthread_mutex_lock(&j->lock);
    while (j->running > 0 && bg_now_ms() < deadline)
        (void)pthread_cond_timedwait(&j->idle, &j->lock, &ts);
    int left = j->running;
    pthread_mutex_unlock(&j->lock);
    return left;
}
