/* Helpers for tests that run the cipherl program (CIPHERL_CLI). */
#ifndef CIPHERL_TESTS_CLI_UTIL_H
#define CIPHERL_TESTS_CLI_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Runs "cipherl ARGS" with stdout and stderr to out_path; its exit status,
 * or -1 if it did not exit. */
static inline int run_cli(const char *args, const char *out_path)
{
    size_t n = strlen(CIPHERL_CLI) + strlen(args) + strlen(out_path) + 16;
    char *cmd = malloc(n);
    if (!cmd)
        return -1;
    snprintf(cmd, n, "'%s' %s > '%s' 2>&1", CIPHERL_CLI, args, out_path);
    int rc = system(cmd);
    free(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* The whole file (malloc'ed, NUL-terminated; *len its length if len is not
 * NULL), or NULL if it cannot be read. */
static inline char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *t = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (t && fread(t, 1, (size_t)n, f) != (size_t)n) {
        free(t);
        t = NULL;
    }
    fclose(f);
    if (t) {
        t[n] = 0;
        if (len)
            *len = (size_t)n;
    }
    return t;
}

/* A test group's scratch directory: made from a mkdtemp template, removed
 * with everything in it. 0 on success (cmocka's setup/teardown convention). */
static inline int tmpdir_make(char *template_path)
{
    return mkdtemp(template_path) ? 0 : -1;
}

static inline int tmpdir_remove(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
