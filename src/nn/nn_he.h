/* HE-friendly building blocks of the nn layer, written once against the slot
 * machine (so the clear and CKKS backends run the same code), each with a
 * scalar twin that evaluates the very same formula in doubles for analysis
 * and tests. Error bounds: docs/he-adam.md and docs/approximations.md.
 *
 * (Internal for now; these declarations move to include/cipherl/nn.h once the
 * nn header settles.) */
#ifndef CIPHERL_NN_HE_H
#define CIPHERL_NN_HE_H

#include <stdbool.h>
#include <stddef.h>

#include "cipherl/common.h"
#include "cipherl/slots.h"

/* ------------------------------------------------------------ polynomials */

#define NN_POLY_MAX_DEGREE 15

/* p(x) = sum_k c[k] x^k. */
typedef struct nn_poly {
    int degree;
    double c[NN_POLY_MAX_DEGREE + 1];
} nn_poly;

double nn_poly_eval(const nn_poly *p, double x);
/* The derivative p'(x) as a polynomial. */
nn_poly nn_poly_derivative(const nn_poly *p);
/* Multiplicative depth (levels consumed) of nn_poly_eval_slots for p. */
int nn_poly_depth(const nn_poly *p);
/* out = p(x) slot-wise, powers by repeated squaring and products of powers of
 * two; depth nn_poly_depth(p) = ceil(log2(degree)) + 1 for degree >= 2. */
cl_status nn_poly_eval_slots(slots_ctx *ctx, const nn_poly *p, const slots_vec *x, slots_vec *out);

/* The activation of HE-friendly networks: the minimax quadratic of ReLU on
 * [-bound, bound], bound/16 + x/2 + x^2/(2 bound). Its error there equioscillates
 * at x = 0, ±bound/2, ±bound with size bound/16 (docs/he-adam.md, appendix). */
nn_poly nn_relu_quadratic(double bound);

/* The squash of HE-TD3's actor and of NN_ACT_SQUASH3/5 (include/cipherl/nn.h):
 * y = f_k(z / A) with
 *   degree 3 (k = 1): f_1(x) = (3x - x^3)/2,
 *   degree 5 (k = 2): f_2(x) = (15x - 10x^3 + 3x^5)/8,
 * the 1/A folded into the coefficients. f_k is odd, f_k' a multiple of
 * (1 - x^2)^k: y rises monotonically from -1 to 1 on [-A, A], with zero slope
 * at z = +-A. Any degree other than 5 gives degree 3's; A > 0 is the caller's
 * to check. */
nn_poly nn_squash_poly(int degree, double A);

/* ------------------------------------------------------------ maximum */

/* |d| on [-bound, bound] as q(d^2), q the minimax polynomial of degree n of
 * sqrt on [0, bound^2] (Remez exchange); error = its largest error there. */
typedef struct nn_abs_approx {
    double bound;
    double error; /* max |q(d^2) - |d|| on [-bound, bound] */
    nn_poly q;
} nn_abs_approx;

cl_status nn_abs_approx_make(int n, double bound, nn_abs_approx *out);
double nn_abs_approx_eval(const nn_abs_approx *a, double d);
/* max(x, y) ~ (x + y)/2 + q((x - y)^2)/2; error <= a->error / 2 when |x - y| <= bound. */
double nn_max2(const nn_abs_approx *a, double x, double y);
int nn_max2_depth(const nn_abs_approx *a);
cl_status nn_max2_slots(slots_ctx *ctx, const nn_abs_approx *a, const slots_vec *x, const slots_vec *y,
                        slots_vec *out);

/* ------------------------------------------------------- packed dense layers
 * (layout and costs: the comment at the top of src/nn/he_dense.c) */

typedef struct nn_dense_layout {
    size_t d;     /* padded width: a power of two >= every layer's in and out */
    size_t batch; /* B: a power of two; slots = 2 d B */
} nn_dense_layout;

/* A dense layer on slots: d diagonals, d transposed diagonals, optional bias
 * (a single vector: the bias in each block's first half). Not owned here. */
typedef struct nn_dense_slots {
    slots_vec **diag;
    slots_vec **tdiag;
    slots_vec *bias;
} nn_dense_slots;

cl_status nn_dense_layout_check(const nn_dense_layout *L, size_t slots);
/* Clear-side packing, for the owner and for tests. x: batch rows of dim values. */
void nn_pack_batch(const nn_dense_layout *L, const double *x, size_t dim, bool doubled, double *slots);
void nn_unpack_batch(const nn_dense_layout *L, const double *slots, size_t dim, double *x);
/* W: out x in, row-major; diagonal k of W (or of W^T when transposed). */
void nn_pack_diagonal(const nn_dense_layout *L, const double *W, size_t out, size_t in, bool transposed, size_t k,
                      double *slots);
void nn_unpack_diagonal(const nn_dense_layout *L, const double *slots, size_t out, size_t in, bool transposed,
                        size_t k, double *W);
/* v single -> doubled (v + rot(v, -d)); no level. */
cl_status nn_double_slots(slots_ctx *ctx, const nn_dense_layout *L, const slots_vec *v, slots_vec *out);
/* y (single) = W x + bias from a doubled x; one level. rot_cache (d vectors,
 * or NULL) receives rot(x_doubled, k) for the backward pass. */
cl_status nn_dense_forward_slots(slots_ctx *ctx, const nn_dense_layout *L, const nn_dense_slots *layer,
                                 const slots_vec *x_doubled, slots_vec **rot_cache, slots_vec *y);
/* From dy (single): dx = W^T dy (single; skipped when dx is NULL), and the
 * gradients of the d diagonals, the d transposed diagonals (skipped when
 * grad_tdiag is NULL: a first layer whose dx nobody needs never uses its
 * transposed diagonals, so it need not train them) and the bias (summed over
 * the batch, replicated in every block; skipped when grad_bias is NULL). x
 * is the layer's single input and rot_cache the forward pass's rotations of
 * its doubled input. With neither dx nor grad_tdiag, dy is not rotated. */
cl_status nn_dense_backward_slots(slots_ctx *ctx, const nn_dense_layout *L, const nn_dense_slots *layer,
                                  const slots_vec *x, slots_vec *const *rot_cache, const slots_vec *dy,
                                  slots_vec *dx, slots_vec **grad_diag, slots_vec **grad_tdiag, slots_vec *grad_bias);

/* The transposed diagonals from the diagonals of the same matrix:
 * tdiag_k = rot(double(diag_{-k mod d}), k) with the second halves masked to
 * zero (tdiag_0 = diag_0). So only the diagonals need a gradient and an
 * optimizer; the transposed set is rebuilt after each update. Every diag must
 * have a level left (the mask is a plaintext product); tdiag_k (k > 0) ends
 * one level lower. Cost: d - 1 rotations to double, d - 1 rotations, d - 1
 * plaintext products. Exact on the clear backend. */
cl_status nn_dense_transpose_slots(slots_ctx *ctx, const nn_dense_layout *L, slots_vec *const *diag,
                                   slots_vec **tdiag);

/* ----------------------------------------------------------- HE-compatible Adam
 *
 * Adam with the second moment reparameterized: instead of v it keeps
 * r ~ (w)^-1/2, w = v + delta-floor with a prior, and updates r by a
 * degree-2 polynomial of a small quantity u, so no inverse square root is ever
 * approximated over a wide interval. Per step:
 *   m <- beta1 m + (1 - beta1) g
 *   u  = kappa (g^2 + delta) r^2,          kappa = (1 - beta2) / beta2
 *   r <- beta2^-1/2 r (1 - u/2 + 3u^2/8)   [(1 + u)^-1/2 to second order]
 *   theta <- theta - alpha / (1 - beta1^t) * m * r
 * with m_0 = 0, r_0 = prior^-1/2. The exact counterpart keeps
 * w_t = beta2 w_{t-1} + (1 - beta2)(g^2 + delta), w_0 = prior, and r = w^-1/2. */
typedef struct nn_he_adam_config {
    double alpha;  /* learning rate */
    double beta1;  /* first-moment decay (0.9) */
    double beta2;  /* second-moment decay (0.999) */
    double delta;  /* variance floor, in squared-gradient units */
    double prior;  /* w_0: prior second moment (> 0) */
} nn_he_adam_config;

/* Checks the configuration; CL_ERR_INVALID if out of range. */
cl_status nn_he_adam_check(const nn_he_adam_config *cfg);
/* U, the largest u for gradients bounded by |g| <= gmax, and the resulting
 * bound on the relative error of r (docs/he-adam.md, eq. (5)). */
double nn_he_adam_u_max(const nn_he_adam_config *cfg, double gmax);
double nn_he_adam_error_bound(const nn_he_adam_config *cfg, double gmax);

/* Scalar twin: one step on n parameters; m, r are the state (initialize with
 * nn_he_adam_init_scalar), t is the 1-based step. */
void nn_he_adam_init_scalar(const nn_he_adam_config *cfg, double *m, double *r, size_t n);
void nn_he_adam_step_scalar(const nn_he_adam_config *cfg, long t, double *theta, double *m, double *r,
                            const double *g, size_t n);

/* Slot twin: theta, m, r, g are slot vectors of the same packing. State made by
 * nn_he_adam_init_slots (encrypted by the owner at the top level). Levels used
 * per step: nn_he_adam_depth(). */
cl_status nn_he_adam_init_slots(const nn_he_adam_config *cfg, slots_ctx *ctx, slots_owner *owner, slots_vec *m,
                                slots_vec *r);
cl_status nn_he_adam_step_slots(slots_ctx *ctx, const nn_he_adam_config *cfg, long t, slots_vec *theta,
                                slots_vec *m, slots_vec *r, const slots_vec *g);
/* The same step without its last subtraction: m and r updated, and delta =
 * alpha_t m r, the amount step_slots takes off theta (same levels; delta may
 * alias none of m, r, g). For callers that pack several parameter vectors
 * into one (rl_he_pack) and unpack the step. */
cl_status nn_he_adam_delta_slots(slots_ctx *ctx, const nn_he_adam_config *cfg, long t, slots_vec *m, slots_vec *r,
                                 const slots_vec *g, slots_vec *delta);
int nn_he_adam_depth(void);

#endif
