/* Polynomials on the slot machine, and their scalar twins: the one place where
 * polynomial approximations are evaluated, for both backends. */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "nn/nn_he.h"

double nn_poly_eval(const nn_poly *p, double x)
{
    double y = 0;
    for (int k = p->degree; k >= 0; k--)
        y = y * x + p->c[k];
    return y;
}

nn_poly nn_poly_derivative(const nn_poly *p)
{
    nn_poly d;
    memset(&d, 0, sizeof d);
    d.degree = p->degree > 0 ? p->degree - 1 : 0;
    for (int k = 1; k <= p->degree; k++)
        d.c[k - 1] = k * p->c[k];
    return d;
}

static int ceil_log2(int k)
{
    int d = 0;
    while ((1 << d) < k)
        d++;
    return d;
}

int nn_poly_depth(const nn_poly *p)
{
    if (p->degree <= 0)
        return 0;
    /* the highest power costs ceil(log2 degree) products; the coefficients one more */
    return ceil_log2(p->degree) + 1;
}

nn_poly nn_relu_quadratic(double bound)
{
    nn_poly p;
    memset(&p, 0, sizeof p);
    p.degree = 2;
    p.c[0] = bound / 16.0;
    p.c[1] = 0.5;
    p.c[2] = 1.0 / (2.0 * bound);
    return p;
}

nn_poly nn_squash_poly(int degree, double A)
{
    nn_poly p;
    memset(&p, 0, sizeof p);
    if (degree == 5) { /* (15x - 10x^3 + 3x^5)/8, x = z/A */
        p.degree = 5;
        p.c[1] = 15.0 / 8.0 / A;
        p.c[3] = -10.0 / 8.0 / (A * A * A);
        p.c[5] = 3.0 / 8.0 / (A * A * A * A * A);
    } else { /* (3x - x^3)/2 */
        p.degree = 3;
        p.c[1] = 1.5 / A;
        p.c[3] = -0.5 / (A * A * A);
    }
    return p;
}

cl_status nn_poly_eval_slots(slots_ctx *ctx, const nn_poly *p, const slots_vec *x, slots_vec *out)
{
    if (!ctx || !p || !x || !out || p->degree < 0 || p->degree > NN_POLY_MAX_DEGREE)
        return CL_ERR_INVALID;
    const int d = p->degree;
    /* Powers needed: those with a coefficient, closed under the factors used to
     * build them: x^(2^j) = (x^(2^(j-1)))^2, else x^k = x^hi * x^(k-hi) with hi
     * the largest power of two below k. Each x^k then has depth ceil(log2 k). */
    bool need[NN_POLY_MAX_DEGREE + 1] = {false};
    for (int k = 1; k <= d; k++)
        need[k] = p->c[k] != 0;
    for (int k = d; k >= 2; k--) {
        if (!need[k])
            continue;
        int hi = ((k & (k - 1)) == 0) ? k / 2 : 1 << (ceil_log2(k) - 1);
        need[hi] = true;
        need[k - hi] = true;
    }
    slots_vec *pow[NN_POLY_MAX_DEGREE + 1] = {0};
    slots_vec *term = NULL;
    cl_status st = slots_vec_create(ctx, &term);
    for (int k = 1; k <= d && st == CL_OK; k++) {
        if (!need[k])
            continue;
        if ((st = slots_vec_create(ctx, &pow[k])) != CL_OK)
            break;
        if (k == 1) {
            st = slots_copy(ctx, x, pow[1]);
        } else {
            int hi = ((k & (k - 1)) == 0) ? k / 2 : 1 << (ceil_log2(k) - 1);
            st = slots_mul(ctx, pow[hi], pow[k - hi], pow[k]);
        }
    }
    bool first = true;
    for (int k = 1; k <= d && st == CL_OK; k++) {
        if (p->c[k] == 0)
            continue;
        if ((st = slots_mul_const(ctx, pow[k], p->c[k], term)) != CL_OK)
            break;
        st = first ? slots_copy(ctx, term, out) : slots_add(ctx, out, term, out);
        first = false;
    }
    if (st == CL_OK && first) /* constant polynomial: 0 * x keeps the layout */
        st = slots_mul_const(ctx, x, 0.0, out);
    if (st == CL_OK && p->c[0] != 0)
        st = slots_add_const(ctx, out, p->c[0], out);
    for (int k = 0; k <= d; k++)
        slots_vec_free(pow[k]);
    slots_vec_free(term);
    return st;
}
