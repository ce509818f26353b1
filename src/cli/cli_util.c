/* Small helpers shared by the sub-commands: option parsing, a clock, summary
 * statistics and model comparison. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cipherl/ckks.h"
#include "cipherl/nn.h"
#include "cipherl/rl.h"
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

void cli_mean_std(const double *v, size_t n, double *mean, double *sd)
{
    double m = 0, var = 0;
    for (size_t i = 0; i < n; i++)
        m += v[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++)
        var += (v[i] - m) * (v[i] - m);
    *mean = m;
    *sd = sqrt(var / (double)n);
}

int cli_policy_diff(const rl_policy *a, const rl_policy *b, double *max_diff, double *max_weight, size_t *n_params)
{
    const nn_mlp *na = rl_policy_network(a), *nb = rl_policy_network(b);
    if (rl_policy_algo(a) != rl_policy_algo(b) || strcmp(rl_policy_env_id(a), rl_policy_env_id(b)) ||
        !nn_mlp_same_arch(na, nb))
        return -1;
    double diff = 0, big = 0;
    for (size_t i = 0; i < na->n_params; i++) {
        diff = fmax(diff, fabs(na->params[i] - nb->params[i]));
        big = fmax(big, fmax(fabs(na->params[i]), fabs(nb->params[i])));
    }
    *max_diff = diff;
    if (max_weight)
        *max_weight = big;
    if (n_params)
        *n_params = na->n_params;
    return 0;
}
