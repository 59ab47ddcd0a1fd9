/* SPDX-License-Identifier: MIT */
/* Runs every file of a corpus directory through LLVMFuzzerTestOneInput, without libFuzzer. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Read all of path into a new buffer; returns its size or -1 with errno set. */
static ssize_t read_all(int dirfd, const char *name, uint8_t **ret)
{
    bg_autoclose int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    struct stat st;

    if (fd < 0 || fstat(fd, &st) < 0)
        return -1;
    if (!S_ISREG(st.st_mode)) {
        errno = EINVAL;
        return -1;
    }
    /* an exact-size buffer, so ASan sees any read past the input */
    uint8_t *buf = bg_malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n <= 0) {
            free(buf);
            if (n == 0)
                errno = EIO;
            return -1;
        }
        got += (size_t)n;
    }
    *ret = buf;
    return (ssize_t)got;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    DIR *dir = opendir(argv[1]);
    if (!dir) {
        fprintf(stderr, "open %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    int count = 0;
    for (struct dirent *de; (de = readdir(dir));) {
        if (de->d_name[0] == '.')
            continue;
        uint8_t *data = NULL;
        ssize_t n = read_all(dirfd(dir), de->d_name, &data);
        if (n < 0) {
            fprintf(stderr, "read %s/%s: %s\n", argv[1], de->d_name, strerror(errno));
            closedir(dir);
            return 1;
        }
        (void)LLVMFuzzerTestOneInput(data, (size_t)n);
        free(data);
        count++;
    }
    closedir(dir);
    /* an empty or misnamed corpus must not pass silently */
    if (count == 0) {
        fprintf(stderr, "no inputs in %s\n", argv[1]);
        return 1;
    }
    printf("ran %d inputs from %s\n", count, argv[1]);
    return 0;
}
