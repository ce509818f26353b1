/* The HE-compatible Adam (derivation and error bound: docs/he-adam.md).
 *
 * The scalar and slot versions below evaluate the same formula, term for term:
 *   s  = g r,  z = s^2 + delta r^2          (= (g^2 + delta) r^2)
 *   p  = b + z (c0 + c1 z),  b = beta2^-1/2, c0 = -b kappa / 2, c1 = 3 b kappa^2 / 8
 *   r <- r p                                (r (1 + kappa z)^-1/2 to second order)
 *   m <- beta1 m + (1 - beta1) g
 *   theta <- theta - alpha_t m r,  alpha_t = alpha / (1 - beta1^t)
 * kappa = (1 - beta2) / beta2 is folded into the coefficients, so the step
 * needs six levels (nn_he_adam_depth) from inputs at one level. */
#include <math.h>
#include <stdlib.h>

#include "nn/nn_he.h"

typedef struct coeffs {
    double kappa, b, c0, c1;
} coeffs;

static coeffs coeffs_of(const nn_he_adam_config *cfg)
{
    coeffs k;
    k.kappa = (1.0 - cfg->beta2) / cfg->beta2;
    k.b = 1.0 / sqrt(cfg->beta2);
    k.c0 = -k.b * k.kappa / 2.0;
    k.c1 = 3.0 * k.b * k.kappa * k.kappa / 8.0;
    return k;
}

cl_status nn_he_adam_check(const nn_he_adam_config *cfg)
{
    if (!cfg)
        return CL_ERR_INVALID;
    if (!(cfg->alpha > 0) || !(cfg->beta1 >= 0 && cfg->beta1 < 1) || !(cfg->beta2 > 0 && cfg->beta2 < 1) ||
        !(cfg->delta > 0) || !(cfg->prior > 0) || !isfinite(cfg->alpha) || !isfinite(cfg->delta) ||
        !isfinite(cfg->prior))
        return CL_ERR_INVALID;
    return CL_OK;
}

double nn_he_adam_u_max(const nn_he_adam_config *cfg, double gmax)
{
    /* u_t = kappa (g^2 + delta) / w_{t-1} and w never drops below min(prior, delta) */
    const double kappa = (1.0 - cfg->beta2) / cfg->beta2;
    return kappa * (gmax * gmax + cfg->delta) / fmin(cfg->prior, cfg->delta);
}

double nn_he_adam_error_bound(const nn_he_adam_config *cfg, double gmax)
{
    const double u = nn_he_adam_u_max(cfg, gmax);
    return 5.0 / 16.0 * u * u * pow(1.0 + u, 1.5);
}

int nn_he_adam_depth(void)
{
    return 6;
}

void nn_he_adam_init_scalar(const nn_he_adam_config *cfg, double *m, double *r, size_t n)
{
    const double r0 = 1.0 / sqrt(cfg->prior);
    for (size_t i = 0; i < n; i++) {
        m[i] = 0.0;
        r[i] = r0;
    }
}

void nn_he_adam_step_scalar(const nn_he_adam_config *cfg, long t, double *theta, double *m, double *r,
                            const double *g, size_t n)
{
    const coeffs k = coeffs_of(cfg);
    const double alpha_t = cfg->alpha / (1.0 - pow(cfg->beta1, (double)t));
    for (size_t i = 0; i < n; i++) {
        const double s = g[i] * r[i];
        const double z = s * s + cfg->delta * r[i] * r[i];
        const double p = k.b + z * (k.c0 + k.c1 * z);
        r[i] = r[i] * p;
        m[i] = cfg->beta1 * m[i] + (1.0 - cfg->beta1) * g[i];
        theta[i] -= alpha_t * m[i] * r[i];
    }
}

cl_status nn_he_adam_init_slots(const nn_he_adam_config *cfg, slots_ctx *ctx, slots_owner *owner, slots_vec *m,
                                slots_vec *r)
{
    cl_status st = nn_he_adam_check(cfg);
    if (st != CL_OK)
        return st;
    if (!ctx || !owner || !m || !r)
        return CL_ERR_INVALID;
    /* m_0 = 0 and r_0 = prior^-1/2 in every slot: public constants the owner encrypts. */
    const size_t n = slots_count(ctx);
    double *v = malloc(n * sizeof *v);
    if (!v)
        return CL_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        v[i] = 0.0;
    st = slots_encrypt(owner, v, n, m);
    for (size_t i = 0; i < n; i++)
        v[i] = 1.0 / sqrt(cfg->prior);
    if (st == CL_OK)
        st = slots_encrypt(owner, v, n, r);
    free(v);
    return st;
}

cl_status nn_he_adam_delta_slots(slots_ctx *ctx, const nn_he_adam_config *cfg, long t, slots_vec *m, slots_vec *r,
                                 const slots_vec *g, slots_vec *delta)
{
    cl_status st = nn_he_adam_check(cfg);
    if (st != CL_OK)
        return st;
    if (!ctx || !m || !r || !g || !delta || t < 1)
        return CL_ERR_INVALID;
    if (delta == m || delta == r || delta == g)
        return CL_ERR_INVALID;
    const coeffs k = coeffs_of(cfg);
    const double alpha_t = cfg->alpha / (1.0 - pow(cfg->beta1, (double)t));
    enum { S_, Z, DR, P, NTMP };
    slots_vec *v[NTMP] = {0};
    for (int i = 0; i < NTMP && st == CL_OK; i++)
        st = slots_vec_create(ctx, &v[i]);
    /* levels below are counted from inputs at level L */
    if (st == CL_OK)
        st = slots_mul(ctx, g, r, v[S_]);                 /* s = g r            L-1 */
    if (st == CL_OK)
        st = slots_mul_const(ctx, r, cfg->delta, v[DR]);  /* delta r            L-1 */
    if (st == CL_OK) {                                    /* z = s^2 + delta r^2 L-2 */
        const slots_vec *xs[2] = {v[S_], v[DR]}, *ys[2] = {v[S_], r};
        st = slots_dot(ctx, xs, ys, 2, v[Z]);            /* (one relinearization on CKKS) */
    }
    if (st == CL_OK)
        st = slots_mul_const(ctx, v[Z], k.c1, v[P]);      /* c1 z               L-3 */
    if (st == CL_OK)
        st = slots_add_const(ctx, v[P], k.c0, v[P]);      /* c0 + c1 z          L-3 */
    if (st == CL_OK)
        st = slots_mul(ctx, v[Z], v[P], v[P]);            /* z (c0 + c1 z)      L-4 */
    if (st == CL_OK)
        st = slots_add_const(ctx, v[P], k.b, v[P]);       /* p                  L-4 */
    if (st == CL_OK)
        st = slots_mul(ctx, r, v[P], r);                  /* r <- r p           L-5 */
    if (st == CL_OK)
        st = slots_mul_const(ctx, m, cfg->beta1, delta);  /* beta1 m            L-1 */
    if (st == CL_OK)
        st = slots_mul_const(ctx, g, 1.0 - cfg->beta1, v[S_]); /* (1-beta1) g   L-1 */
    if (st == CL_OK)
        st = slots_add(ctx, delta, v[S_], m);             /* m                  L-1 */
    if (st == CL_OK)
        st = slots_mul_const(ctx, m, alpha_t, delta);     /* alpha_t m          L-2 */
    if (st == CL_OK)
        st = slots_mul(ctx, delta, r, delta);             /* alpha_t m r        L-6 */
    for (int i = 0; i < NTMP; i++)
        slots_vec_free(v[i]);
    return st;
}

cl_status nn_he_adam_step_slots(slots_ctx *ctx, const nn_he_adam_config *cfg, long t, slots_vec *theta,
                                slots_vec *m, slots_vec *r, const slots_vec *g)
{
    if (!ctx || !theta)
        return CL_ERR_INVALID;
    slots_vec *delta;
    cl_status st = slots_vec_create(ctx, &delta);
    if (st != CL_OK)
        return st;
    if ((st = nn_he_adam_delta_slots(ctx, cfg, t, m, r, g, delta)) == CL_OK)
        st = slots_sub(ctx, theta, delta, theta);         /* theta              L-6 */
    slots_vec_free(delta);
    return st;
}
