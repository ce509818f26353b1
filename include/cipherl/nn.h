/* cipherl nn layer: dense networks, activations, losses, optimizers.
 * Includes only layers below it (ring, ckks, slots).
 *
 * This header holds the plaintext part (mode `plain`): a small multilayer
 * perceptron in doubles with exact ReLU/tanh (or the HE-friendly quadratic
 * NN_ACT_POLY2 and the polynomial output squashes NN_ACT_SQUASH3/5, so that
 * networks trained by HE-DQN and HE-TD3 run here), mini-batch forward and
 * backward passes, MSE and Huber losses, Adam (PyTorch's formulation) and
 * SGD, target network updates and (de)serialization. Matrices are contiguous and
 * row-major; a batch is batch-major (one row per sample). Nothing allocates
 * inside a training step: forward/backward use a workspace made once.
 *
 * The HE-friendly networks written against the `slots` machine live in other
 * files of this layer under other names. */
#ifndef CIPHERL_NN_H
#define CIPHERL_NN_H

#include <stddef.h>
#include <stdint.h>
#include "cipherl/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ============================================================ plain MLP */

typedef enum nn_act {
    NN_ACT_IDENTITY = 0,
    NN_ACT_RELU = 1,
    NN_ACT_TANH = 2,
    /* The HE-friendly activation p(x) = x/2 + x^2/(2b), b = the network's
     * act_bound > 0: the ReLU minimax quadratic on [-b, b]
     * (nn_relu_quadratic(b) of src/nn/nn_he.h) without its constant, as the
     * HE networks (src/rl/he_dqn.c) apply it; p'(x) = 1/2 + x/b. Evaluated
     * through that same nn_poly (nn_poly_eval, nn_poly_derivative). */
    NN_ACT_POLY2 = 3,
    /* HE-TD3's actor output (output layer only): y = f_k(z / A), A = the
     * network's squash_bound > 0, with f_1(x) = (3x - x^3)/2 (SQUASH3) and
     * f_2(x) = (15x - 10x^3 + 3x^5)/8 (SQUASH5): odd, monotone on [-A, A],
     * y = +-1 with zero slope at z = +-A. Past +-A it leaves [-1, 1] (f_2
     * at once; f_1 turns back, reaches -+1 at z = +-2A, then leaves): a TD3
     * policy clips to [-1, 1]. Evaluated through nn_squash_poly(3 or 5, A)
     * of src/nn/nn_he.h (nn_poly_eval, nn_poly_derivative), the polynomial
     * the HE actor applies. */
    NN_ACT_SQUASH3 = 4,
    NN_ACT_SQUASH5 = 5
} nn_act;

#define NN_MLP_MAX_LAYERS 8      /* dense layers (hidden layers + output) */
#define NN_MLP_MAX_WIDTH 65536   /* largest layer width accepted */

/* A multilayer perceptron: n_layers dense layers y = act(x W + b), the hidden
 * ones with hidden_act, the last with out_act; act_bound is the b of
 * NN_ACT_POLY2 and squash_bound the A of NN_ACT_SQUASH3/5 (0 = not set; the
 * other activations ignore them). All parameters live in one contiguous array
 * `params` of n_params doubles: for each layer l in order, W_l (sizes[l] x
 * sizes[l+1], row-major: W_l[i * sizes[l+1] + j] links input i to output j)
 * followed by b_l (sizes[l+1]). A gradient array has the same layout. */
typedef struct nn_mlp {
    int n_layers;
    int sizes[NN_MLP_MAX_LAYERS + 1]; /* sizes[0] inputs ... sizes[n_layers] outputs */
    nn_act hidden_act, out_act;
    double act_bound;    /* b of NN_ACT_POLY2 (set with nn_mlp_set_act_bound) */
    double squash_bound; /* A of NN_ACT_SQUASH3/5 (set with nn_mlp_set_squash_bound) */
    size_t n_params;
    double *params;
    size_t w_off[NN_MLP_MAX_LAYERS]; /* offset of W_l in params */
    size_t b_off[NN_MLP_MAX_LAYERS]; /* offset of b_l in params */
} nn_mlp;

/* n_in inputs, n_hidden hidden layers of the given widths (n_hidden may be 0),
 * n_out outputs. Parameters are zero until initialized; act_bound and
 * squash_bound are 0, so a network with an NN_ACT_POLY2 layer needs
 * nn_mlp_set_act_bound, and one with an NN_ACT_SQUASH3/5 output
 * nn_mlp_set_squash_bound, before its first forward pass (nn_mlp_forward
 * returns NULL until then). CL_ERR_INVALID for bad sizes or activations
 * (NN_ACT_SQUASH3/5 as hidden_act included), CL_ERR_NOMEM. */
cl_status nn_mlp_create(int n_in, const int *hidden, int n_hidden, int n_out,
                        nn_act hidden_act, nn_act out_act, nn_mlp **out);
/* Sets b of NN_ACT_POLY2. CL_ERR_INVALID unless b is finite and > 0. */
cl_status nn_mlp_set_act_bound(nn_mlp *net, double b);
/* 1 if the hidden or the output activation is NN_ACT_POLY2. */
int nn_mlp_uses_poly2(const nn_mlp *net);
/* Sets A of NN_ACT_SQUASH3/5. CL_ERR_INVALID unless A is finite and > 0. */
cl_status nn_mlp_set_squash_bound(nn_mlp *net, double A);
/* 1 if the output activation is NN_ACT_SQUASH3 or NN_ACT_SQUASH5. */
int nn_mlp_uses_squash(const nn_mlp *net);
void nn_mlp_free(nn_mlp *net);
int nn_mlp_inputs(const nn_mlp *net);
int nn_mlp_outputs(const nn_mlp *net);

/* A source of uniform doubles in [0, 1) (the caller's PRNG). */
typedef double (*nn_uniform_fn)(void *ctx);

/* PyTorch's default nn.Linear initialization: every weight and bias of layer l
 * uniform in [-1/sqrt(fan_in), 1/sqrt(fan_in)). */
void nn_mlp_init_default(nn_mlp *net, nn_uniform_fn uniform, void *ctx);

/* dst <- src (same architecture, else CL_ERR_PARAMS). */
cl_status nn_mlp_copy_params(nn_mlp *dst, const nn_mlp *src);
/* Polyak averaging as Stable-Baselines3: dst <- (1 - tau) dst + tau src
 * (tau = 1 is a hard copy). CL_ERR_PARAMS if architectures differ. */
cl_status nn_mlp_polyak(nn_mlp *dst, const nn_mlp *src, double tau);
/* 1 if same layer sizes and activations (and the same act_bound when they
 * include NN_ACT_POLY2, the same squash_bound when the output is
 * NN_ACT_SQUASH3/5). */
int nn_mlp_same_arch(const nn_mlp *a, const nn_mlp *b);

/* Workspace for forward/backward on batches of up to max_batch rows. One
 * workspace serves one network at a time: backward uses what the last
 * forward through this workspace stored. */
typedef struct nn_mlp_ws nn_mlp_ws;
cl_status nn_mlp_ws_create(const nn_mlp *net, int max_batch, nn_mlp_ws **out);
void nn_mlp_ws_free(nn_mlp_ws *ws);
int nn_mlp_ws_max_batch(const nn_mlp_ws *ws);

/* Forward pass on `batch` rows of x (batch x inputs, row-major). Returns the
 * outputs (batch x outputs, row-major) inside the workspace, valid until the
 * next forward with it; NULL if batch is out of range or the workspace does
 * not fit the network. x is copied. */
const double *nn_mlp_forward(const nn_mlp *net, nn_mlp_ws *ws, const double *x, int batch);

/* Backward pass for the last forward through ws. dout: d loss / d outputs
 * (batch x outputs). Adds d loss / d params to grad (n_params, accumulated as
 * PyTorch does; skipped if grad is NULL) and, if dx is not NULL, writes
 * d loss / d inputs (batch x inputs). */
cl_status nn_mlp_backward(const nn_mlp *net, nn_mlp_ws *ws, const double *dout,
                          double *grad, double *dx);

/* ============================================================== losses */

/* Mean squared error over n values; writes d loss / d pred (2 (p - t) / n)
 * to dpred if not NULL. Returns the loss. */
double nn_loss_mse(const double *pred, const double *target, size_t n, double *dpred);
/* Huber loss (PyTorch's smooth_l1_loss with beta; SB3's DQN uses beta = 1),
 * mean over n values: 0.5 d^2 / beta if |d| < beta, else |d| - 0.5 beta.
 * Writes d loss / d pred to dpred if not NULL. Returns the loss. */
double nn_loss_huber(const double *pred, const double *target, size_t n, double beta,
                     double *dpred);

/* ============================================================ optimizers */

/* Scales grad so that its L2 norm is at most max_norm, as PyTorch's
 * clip_grad_norm_ (coefficient max_norm / (norm + 1e-6) when below 1).
 * Returns the norm before clipping. */
double nn_clip_grad_norm(double *grad, size_t n, double max_norm);

/* Plain SGD: params <- params - lr * grad. */
void nn_sgd_step(double *params, const double *grad, size_t n, double lr);

/* Adam as torch.optim.Adam (no weight decay, no amsgrad):
 *   m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2,
 *   p <- p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps). */
typedef struct nn_adam {
    size_t n;
    double lr, beta1, beta2, eps;
    int64_t t;     /* steps taken */
    double *m, *v; /* first and second moments */
} nn_adam;

cl_status nn_adam_create(size_t n, double lr, double beta1, double beta2, double eps,
                         nn_adam **out);
void nn_adam_free(nn_adam *opt);
void nn_adam_reset(nn_adam *opt);
void nn_adam_step(nn_adam *opt, double *params, const double *grad);

/* ========================================================= serialization */

/* Network block, version 3 (what nn_mlp_serialize writes; little-endian,
 * doubles as IEEE 754 bit patterns):
 *   u32 NN_MLP_FORMAT_MAGIC, u32 NN_MLP_FORMAT_VERSION,
 *   u32 n_layers, u32 hidden_act (0..NN_ACT_POLY2), u32 out_act
 *   (0..NN_ACT_SQUASH5), f64 act_bound (0 when no layer is NN_ACT_POLY2),
 *   f64 squash_bound (0 unless out_act is NN_ACT_SQUASH3/5),
 *   u32 sizes[n_layers + 1], f64 params[n_params].
 * Version 2 (read only) is version 3 without squash_bound, activations
 * 0..NN_ACT_POLY2. Version 1 (read only) had no magic, version nor bounds:
 *   u32 n_layers (1..NN_MLP_MAX_LAYERS), u32 hidden_act, u32 out_act,
 *   u32 sizes[n_layers + 1], f64 params[n_params], activations < NN_ACT_POLY2.
 * The first word tells version 1 from the others. */
#define NN_MLP_FORMAT_MAGIC 0x504C4D4Eu /* bytes "NMLP" */
#define NN_MLP_FORMAT_VERSION 3

/* Byte size of nn_mlp_serialize's output. */
size_t nn_mlp_serialized_size(const nn_mlp *net);
/* Writes the architecture and parameters (version 3 above) to buf.
 * CL_ERR_INVALID if cap is too small, or for an activation out of range, an
 * NN_ACT_POLY2 network whose act_bound or an NN_ACT_SQUASH3/5 network whose
 * squash_bound is not finite and > 0. */
cl_status nn_mlp_serialize(const nn_mlp *net, uint8_t *buf, size_t cap, size_t *written);
/* Reads a network written by nn_mlp_serialize (version 3) or by older
 * builds (versions 2 and 1) from buf (len bytes); sets *consumed.
 * CL_ERR_TRUNCATED if buf ends early, CL_ERR_VERSION for an unknown block
 * version, CL_ERR_FORMAT for an impossible architecture, an activation out of
 * range (a squash as hidden activation included), an act_bound that is not
 * finite and > 0 with NN_ACT_POLY2 (or not 0 without it), a squash_bound
 * that is not finite and > 0 with NN_ACT_SQUASH3/5 (or not 0 without it) or
 * a non-finite parameter, CL_ERR_NOMEM. */
cl_status nn_mlp_deserialize(const uint8_t *buf, size_t len, size_t *consumed, nn_mlp **out);

#ifdef __cplusplus
}
#endif
#endif
