/* The maximum of two slot vectors by a polynomial, and its scalar twin.
 *
 * max(a, b) = (a + b)/2 + |a - b|/2, and |d| on [-B, B] is approximated by
 * q(d^2), where q(t) is the minimax polynomial of degree n of sqrt(t) on
 * [0, B^2] (equivalently, the minimax even polynomial of |x| of degree 2n).
 * q is found once, in doubles, by the Remez exchange algorithm on [0, 1] and
 * rescaled to B: q_B(t) = B q(t / B^2). Error bound: |max - approx| <= B E_n / 2
 * where E_n is the minimax error on [0, 1] (docs/he-adam.md, appendix B). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_he.h"

#define GRID 20000

static double peval(const double *c, int n, double t)
{
    double y = 0;
    for (int k = n; k >= 0; k--)
        y = y * t + c[k];
    return y;
}

/* Solves A x = b (m x m, row-major) by Gaussian elimination with partial pivoting. */
static bool solve(double *a, double *b, int m)
{
    for (int col = 0; col < m; col++) {
        int piv = col;
        for (int r = col + 1; r < m; r++)
            if (fabs(a[r * m + col]) > fabs(a[piv * m + col]))
                piv = r;
        if (fabs(a[piv * m + col]) < 1e-300)
            return false;
        if (piv != col) {
            for (int k = 0; k < m; k++) {
                double t = a[col * m + k];
                a[col * m + k] = a[piv * m + k];
                a[piv * m + k] = t;
            }
            double t = b[col];
            b[col] = b[piv];
            b[piv] = t;
        }
        for (int r = col + 1; r < m; r++) {
            double f = a[r * m + col] / a[col * m + col];
            for (int k = col; k < m; k++)
                a[r * m + k] -= f * a[col * m + k];
            b[r] -= f * b[col];
        }
    }
    for (int r = m - 1; r >= 0; r--) {
        double s = b[r];
        for (int k = r + 1; k < m; k++)
            s -= a[r * m + k] * b[k];
        b[r] = s / a[r * m + r];
    }
    return true;
}

cl_status nn_abs_approx_make(int n, double bound, nn_abs_approx *out)
{
    if (!out || n < 1 || n > NN_POLY_MAX_DEGREE - 1 || !(bound > 0) || !isfinite(bound))
        return CL_ERR_INVALID;
    const int m = n + 2;
    double ref[NN_POLY_MAX_DEGREE + 2], a[(NN_POLY_MAX_DEGREE + 2) * (NN_POLY_MAX_DEGREE + 2)],
        x[NN_POLY_MAX_DEGREE + 2];
    /* Reference points in s = sqrt(t) (the error lives on a sqrt scale near 0). */
    for (int i = 0; i < m; i++) {
        double s = (1.0 - cos(M_PI * i / (m - 1))) / 2.0;
        ref[i] = s * s;
    }
    double err = 0;
    /* extrema of each run of constant error sign (at most one run per grid point) */
    double *ext_t = malloc((GRID + 1) * sizeof *ext_t), *ext_e = malloc((GRID + 1) * sizeof *ext_e);
    if (!ext_t || !ext_e) {
        free(ext_t);
        free(ext_e);
        return CL_ERR_NOMEM;
    }
    cl_status result = CL_OK;
    for (int iter = 0; iter < 40; iter++) {
        for (int i = 0; i < m; i++) {
            double p = 1;
            for (int k = 0; k <= n; k++) {
                a[i * m + k] = p;
                p *= ref[i];
            }
            a[i * m + n + 1] = (i % 2) ? -1.0 : 1.0;
            x[i] = sqrt(ref[i]);
        }
        if (!solve(a, x, m)) {
            result = CL_ERR_STATE;
            break;
        }
        /* New reference: the extremum of each run of constant error sign. */
        int runs = 0;
        double best_t = 0, best_e = 0;
        int sign = 0;
        for (int j = 0; j <= GRID; j++) {
            double s = (double)j / GRID, t = s * s, e = s - peval(x, n, t);
            int sg = e >= 0 ? 1 : -1;
            if (sign != 0 && sg != sign) {
                ext_t[runs] = best_t;
                ext_e[runs++] = best_e;
                best_e = 0;
            }
            if (fabs(e) >= fabs(best_e)) {
                best_e = e;
                best_t = t;
            }
            sign = sg;
        }
        ext_t[runs] = best_t;
        ext_e[runs++] = best_e;
        /* Keep m consecutive runs with the largest smallest-extremum (usually runs == m). */
        int start = 0;
        if (runs > m) {
            double best = -1;
            for (int s0 = 0; s0 + m <= runs; s0++) {
                double lo = INFINITY;
                for (int i = 0; i < m; i++)
                    lo = fmin(lo, fabs(ext_e[s0 + i]));
                if (lo > best) {
                    best = lo;
                    start = s0;
                }
            }
        } else if (runs < m) {
            break; /* degenerate; keep the last solution */
        }
        double mx = 0;
        for (int i = 0; i < m; i++) {
            ref[i] = ext_t[start + i];
            mx = fmax(mx, fabs(ext_e[start + i]));
        }
        if (fabs(mx - err) < 1e-14)
            break;
        err = mx;
    }
    free(ext_t);
    free(ext_e);
    if (result != CL_OK)
        return result;
    /* final error on a fine grid */
    double worst = 0;
    for (int j = 0; j <= 4 * GRID; j++) {
        double s = (double)j / (4 * GRID);
        worst = fmax(worst, fabs(s - peval(x, n, s * s)));
    }
    memset(out, 0, sizeof *out);
    out->bound = bound;
    out->error = worst * bound;
    out->q.degree = n;
    /* q_B(t) = B q(t / B^2): coefficient k scales by B^(1 - 2k) */
    for (int k = 0; k <= n; k++)
        out->q.c[k] = x[k] * pow(bound, 1.0 - 2.0 * k);
    return CL_OK;
}

double nn_abs_approx_eval(const nn_abs_approx *a, double d)
{
    return nn_poly_eval(&a->q, d * d);
}

double nn_max2(const nn_abs_approx *a, double x, double y)
{
    return 0.5 * (x + y) + 0.5 * nn_abs_approx_eval(a, x - y);
}

int nn_max2_depth(const nn_abs_approx *a)
{
    /* d^2 (1), q (its depth), then the product by 1/2 is folded into q */
    return 1 + nn_poly_depth(&a->q);
}

cl_status nn_max2_slots(slots_ctx *ctx, const nn_abs_approx *a, const slots_vec *x, const slots_vec *y, slots_vec *out)
{
    if (!ctx || !a || !x || !y || !out)
        return CL_ERR_INVALID;
    nn_poly half = a->q; /* |d|/2 = q(d^2)/2 */
    for (int k = 0; k <= half.degree; k++)
        half.c[k] *= 0.5;
    slots_vec *d = NULL, *s = NULL;
    cl_status st = slots_vec_create(ctx, &d);
    if (st == CL_OK)
        st = slots_vec_create(ctx, &s);
    if (st == CL_OK)
        st = slots_sub(ctx, x, y, d);
    if (st == CL_OK)
        st = slots_mul(ctx, d, d, d);            /* d^2 */
    if (st == CL_OK)
        st = nn_poly_eval_slots(ctx, &half, d, d); /* |x - y| / 2 */
    if (st == CL_OK)
        st = slots_add(ctx, x, y, s);
    if (st == CL_OK)
        st = slots_mul_const(ctx, s, 0.5, s);    /* (x + y) / 2, one level, well above d's */
    if (st == CL_OK)
        st = slots_add(ctx, s, d, out);
    slots_vec_free(d);
    slots_vec_free(s);
    return st;
}
