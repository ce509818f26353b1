/* The gap of DESIGN.md ("How success is measured") and a paired bootstrap
 * interval for it over seeds. */
#include <math.h>
#include <stdlib.h>

#include "cipherl/rl.h"

static double gap_of(double mean_plain, double mean, double r_random)
{
    double den = mean_plain - r_random;
    return den > 0.0 ? 1.0 - (mean - r_random) / den : INFINITY;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

cl_status rl_gap_score(const double *r_plain, const double *r, size_t n_seeds, double r_random,
                       double level, int resamples, uint64_t seed, rl_gap *out)
{
    if (!r_plain || !r || !out || n_seeds < 1 || n_seeds > UINT32_MAX || !(level > 0.0) ||
        !(level < 1.0) || resamples < 1 || !isfinite(r_random))
        return CL_ERR_INVALID;
    double mp = 0.0, m = 0.0;
    for (size_t i = 0; i < n_seeds; i++) {
        if (!isfinite(r_plain[i]) || !isfinite(r[i]))
            return CL_ERR_INVALID;
        mp += r_plain[i];
        m += r[i];
    }
    mp /= (double)n_seeds;
    m /= (double)n_seeds;
    double *g = malloc(sizeof(double) * (size_t)resamples);
    if (!g)
        return CL_ERR_NOMEM;
    rl_rng rng;
    rl_rng_seed(&rng, seed);
    for (int b = 0; b < resamples; b++) {
        double sp = 0.0, s = 0.0;
        for (size_t k = 0; k < n_seeds; k++) {
            uint32_t i = rl_rng_below(&rng, (uint32_t)n_seeds);
            sp += r_plain[i];
            s += r[i];
        }
        g[b] = gap_of(sp / (double)n_seeds, s / (double)n_seeds, r_random);
    }
    qsort(g, (size_t)resamples, sizeof *g, cmp_double);
    /* nearest rank: the smallest draw with at least a fraction q of the draws at or below it */
    double tail = (1.0 - level) / 2.0;
    size_t lo = (size_t)ceil(tail * resamples), hi = (size_t)ceil((1.0 - tail) * resamples);
    lo = lo < 1 ? 0 : lo - 1;
    hi = hi < 1 ? 0 : hi - 1;
    if (hi >= (size_t)resamples)
        hi = (size_t)resamples - 1;
    out->normalized = mp - r_random > 0.0 ? (m - r_random) / (mp - r_random) : NAN;
    out->gap = gap_of(mp, m, r_random); /* 1 - normalized, or +infinity */
    out->lo = g[lo];
    out->hi = g[hi];
    free(g);
    return CL_OK;
}
