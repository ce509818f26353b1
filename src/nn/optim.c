/* Plain losses and optimizers: MSE, Huber (smooth L1), gradient-norm
 * clipping, SGD and Adam in PyTorch's formulation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cipherl/nn.h"

double nn_loss_mse(const double *pred, const double *target, size_t n, double *dpred)
{
    if (n == 0)
        return 0.0;
    double s = 0.0, inv = 1.0 / (double)n;
    for (size_t i = 0; i < n; i++) {
        double d = pred[i] - target[i];
        s += d * d;
        if (dpred)
            dpred[i] = 2.0 * d * inv;
    }
    return s * inv;
}

double nn_loss_huber(const double *pred, const double *target, size_t n, double beta,
                     double *dpred)
{
    if (n == 0)
        return 0.0;
    double s = 0.0, inv = 1.0 / (double)n;
    for (size_t i = 0; i < n; i++) {
        double d = pred[i] - target[i], ad = fabs(d), g;
        if (ad < beta) {
            s += 0.5 * d * d / beta;
            g = d / beta;
        } else {
            s += ad - 0.5 * beta;
            g = d > 0 ? 1.0 : -1.0;
        }
        if (dpred)
            dpred[i] = g * inv;
    }
    return s * inv;
}

double nn_clip_grad_norm(double *grad, size_t n, double max_norm)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += grad[i] * grad[i];
    double norm = sqrt(s);
    double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0)
        for (size_t i = 0; i < n; i++)
            grad[i] *= coef;
    return norm;
}

void nn_sgd_step(double *restrict params, const double *restrict grad, size_t n, double lr)
{
    for (size_t i = 0; i < n; i++)
        params[i] -= lr * grad[i];
}

cl_status nn_adam_create(size_t n, double lr, double beta1, double beta2, double eps,
                         nn_adam **out)
{
    if (!out)
        return CL_ERR_INVALID;
    *out = NULL;
    if (n == 0 || !(lr >= 0.0) || !(beta1 >= 0.0 && beta1 < 1.0) ||
        !(beta2 >= 0.0 && beta2 < 1.0) || !(eps >= 0.0))
        return CL_ERR_INVALID;
    nn_adam *opt = calloc(1, sizeof *opt);
    if (!opt)
        return CL_ERR_NOMEM;
    opt->m = calloc(2 * n, sizeof(double));
    if (!opt->m) {
        free(opt);
        return CL_ERR_NOMEM;
    }
    opt->v = opt->m + n;
    opt->n = n;
    opt->lr = lr;
    opt->beta1 = beta1;
    opt->beta2 = beta2;
    opt->eps = eps;
    *out = opt;
    return CL_OK;
}

void nn_adam_free(nn_adam *opt)
{
    if (!opt)
        return;
    free(opt->m);
    free(opt);
}

void nn_adam_reset(nn_adam *opt)
{
    opt->t = 0;
    memset(opt->m, 0, 2 * opt->n * sizeof(double));
}

void nn_adam_step(nn_adam *opt, double *restrict params, const double *restrict grad)
{
    opt->t++;
    const double b1 = opt->beta1, b2 = opt->beta2, eps = opt->eps;
    const double bc1 = 1.0 - pow(b1, (double)opt->t);
    const double bc2 = 1.0 - pow(b2, (double)opt->t);
    const double step = opt->lr / bc1, inv_sqrt_bc2 = 1.0 / sqrt(bc2);
    double *restrict m = opt->m, *restrict v = opt->v;
    for (size_t i = 0; i < opt->n; i++) {
        double g = grad[i];
        m[i] = b1 * m[i] + (1.0 - b1) * g;
        v[i] = b2 * v[i] + (1.0 - b2) * g * g;
        params[i] -= step * m[i] / (sqrt(v[i]) * inv_sqrt_bc2 + eps);
    }
}
