/* Small helpers shared by the sub-commands: option parsing and a clock. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cipherl/ckks.h"
#include "cli/cli.h"

double cli_now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* "--name value" or "--name=value": returns the value and advances *i, or
 * NULL if argv[*i] is not that option. *missing is set when the value is
 * absent. */
const char *cli_opt_value(int argc, char **argv, int *i, const char *name, int *missing)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n))
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n])
        return NULL;
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}

int cli_parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return 0;
    *out = (uint64_t)v;
    return 1;
}

int cli_parse_steps(const char *s, int64_t *out)
{
    /* integers, also written 5e4 */
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (!*s || errno || *end || !isfinite(d) || d < 1 || d > 1e13 || d != floor(d))
        return 0;
    *out = (int64_t)d;
    return 1;
}


int cli_load_preset(const char *cmd, const char *name, int insecure, ckks_params **out)
{
    cl_status st = ckks_params_from_preset(name, insecure ? CKKS_ALLOW_INSECURE : 0, out);
    if (st == CL_ERR_INSECURE) {
        cli_error("%s: preset %s is below 128-bit security: only for tests, with --insecure", cmd, name);
        return 2;
    } else if (st != CL_OK) {
        cli_error("%s: preset '%s': %s (see 'cipherl params')", cmd, name, cl_strerror(st));
        return 2;
    }
    return 0;
}
