/* Plain multilayer perceptron in doubles: creation, initialization, forward
 * and backward passes on mini-batches, target-network updates.
 *
 * Every matrix product goes through one small GEMM kernel (row-major
 * C (+)= A B) with a 4 x 8 register tile, so forward, d/dW and d/dx all
 * vectorize; the backward pass transposes what it needs into the workspace
 * first. Nothing here allocates once the workspace exists.
 *
 * NN_ACT_POLY2 is the HE networks' activation, evaluated through the very
 * nn_poly they use (nn_relu_quadratic(b) with c[0] = 0, nn_poly_eval and
 * nn_poly_derivative of src/nn/he_poly.c): one formula for every backend.
 * NN_ACT_SQUASH3/5, HE-TD3's actor output, likewise goes through
 * nn_squash_poly(3 or 5, A). Their derivatives depend on the pre-activation,
 * which the workspace keeps for those layers only. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cipherl/nn.h"
#include "nn/nn_he.h"

struct nn_mlp_ws {
    int max_batch;
    int n_layers;
    int sizes[NN_MLP_MAX_LAYERS + 1];
    int batch;                                /* rows of the last forward (0: none) */
    double *act[NN_MLP_MAX_LAYERS + 1];       /* act[0] input copy, act[l] layer outputs */
    double *pre[NN_MLP_MAX_LAYERS + 1];       /* pre-activations of polynomial layers, else NULL */
    double *delta_a, *delta_b;                /* max_batch x max width */
    double *scratch;                          /* transposes */
    void *block;
};

/* ------------------------------------------------------------------ GEMM */

typedef double v4d __attribute__((vector_size(32)));

/* Without -mavx (CIPHERL_NATIVE=OFF), GCC notes that passing or returning a
 * 32-byte vector by value has a different ABI than with AVX (-Wpsabi). The
 * helpers below are static and inlined, so no call crosses an ABI boundary;
 * the note does not apply here. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

static inline v4d load4(const double *p)
{
    v4d v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void store4(double *p, v4d v) { memcpy(p, &v, sizeof v); }

#if defined(__AVX512F__)
/* With AVX-512 the same products in 8-wide registers: tiles of 8 x 16 (16
 * accumulators of the 32 registers), and 64 columns per row when there are
 * only a few rows. Each element of C still gets its products added one by
 * one in the order k = 0, 1, ..., K - 1, each product rounded before it is
 * added (ISO C mode: GCC contracts nothing into FMAs), so C is bit for bit
 * the 4-wide kernel's and the scalar loop's, but for the sign of a zero:
 * the 4-wide kernel splats a[k] as 0.0 + a[k], which turns -0.0 into +0.0,
 * and a direct broadcast keeps it, so where every term of a sum is zero the
 * two may give zeros of opposite signs, equal as numbers. Skipping that
 * addition leaves the adders to the sums. */
#include <immintrin.h>

typedef double v8d __attribute__((vector_size(64)));

static inline v8d load8(const double *p)
{
    v8d v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void store8(double *p, v8d v) { memcpy(p, &v, sizeof v); }

/* R rows (a compile-time constant once inlined) x V vectors of 8 columns */
static inline __attribute__((always_inline)) void tile8(int R, int V, int K, int N,
                                                        const double *restrict a0,
                                                        const double *restrict b0,
                                                        double *restrict c0, int accumulate,
                                                        const double *restrict init)
{
    v8d c[8][8];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++)
            c[r][v] = accumulate ? load8(c0 + (size_t)r * N + 8 * v)
                                 : (init ? load8(init + 8 * v) : (v8d){0});
    const double *bk = b0;
    for (int k = 0; k < K; k++, bk += N) {
        v8d b[8];
        for (int v = 0; v < V; v++)
            b[v] = load8(bk + 8 * v);
        for (int r = 0; r < R; r++) {
            v8d x = _mm512_set1_pd(a0[(size_t)r * K + k]);
            for (int v = 0; v < V; v++)
                c[r][v] += x * b[v];
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++)
            store8(c0 + (size_t)r * N + 8 * v, c[r][v]);
}

/* R rows x the w < 8 columns left, in one masked vector per row (the
 * intrinsics keep the product and the sum apart, as above) */
static inline __attribute__((always_inline)) void tile_tail(int R, int w, int K, int N,
                                                            const double *restrict a0,
                                                            const double *restrict b0,
                                                            double *restrict c0, int accumulate,
                                                            const double *restrict init)
{
    const __mmask8 mk = (__mmask8)((1u << w) - 1u);
    __m512d c[8];
    for (int r = 0; r < R; r++)
        c[r] = accumulate ? _mm512_maskz_loadu_pd(mk, c0 + (size_t)r * N)
                          : (init ? _mm512_maskz_loadu_pd(mk, init) : _mm512_setzero_pd());
    const double *bk = b0;
    for (int k = 0; k < K; k++, bk += N) {
        __m512d b = _mm512_maskz_loadu_pd(mk, bk);
        for (int r = 0; r < R; r++)
            c[r] = _mm512_add_pd(c[r], _mm512_mul_pd(_mm512_set1_pd(a0[(size_t)r * K + k]), b));
    }
    for (int r = 0; r < R; r++)
        _mm512_mask_storeu_pd(c0 + (size_t)r * N, mk, c[r]);
}

/* every column of C; returns N */
static int gemm_wide(int M, int N, int K, const double *restrict A, const double *restrict B,
                     double *restrict C, int accumulate, const double *restrict bias)
{
    const double *init = accumulate ? NULL : bias;
    int j0 = 0;
    if (M < 4)
        for (; j0 + 64 <= N; j0 += 64)
            for (int i = 0; i < M; i++)
                tile8(1, 8, K, N, A + (size_t)i * K, B + j0, C + (size_t)i * N + j0, accumulate,
                      init ? init + j0 : NULL);
    for (; j0 + 16 <= N; j0 += 16) {
        const double *in = init ? init + j0 : NULL;
        int i = 0;
        for (; i + 8 <= M; i += 8)
            tile8(8, 2, K, N, A + (size_t)i * K, B + j0, C + (size_t)i * N + j0, accumulate, in);
        for (; i + 4 <= M; i += 4)
            tile8(4, 2, K, N, A + (size_t)i * K, B + j0, C + (size_t)i * N + j0, accumulate, in);
        for (; i < M; i++)
            tile8(1, 2, K, N, A + (size_t)i * K, B + j0, C + (size_t)i * N + j0, accumulate, in);
    }
    if (j0 + 8 <= N) {
        const double *in = init ? init + j0 : NULL;
        int i = 0;
        for (; i + 8 <= M; i += 8)
            tile8(8, 1, K, N, A + (size_t)i * K, B + j0, C + (size_t)i * N + j0, accumulate, in);
        for (; i < M; i++)
            tile8(1, 1, K, N, A + (size_t)i * K, B + j0, C + (size_t)i * N + j0, accumulate, in);
        j0 += 8;
    }
    if (j0 < N) {
        const int w = N - j0;
        const double *in = init ? init + j0 : NULL;
        int i = 0;
        for (; i + 8 <= M; i += 8)
            tile_tail(8, w, K, N, A + (size_t)i * K, B + j0, C + (size_t)i * N + j0, accumulate, in);
        for (; i < M; i++)
            tile_tail(1, w, K, N, A + (size_t)i * K, B + j0, C + (size_t)i * N + j0, accumulate, in);
        j0 = N;
    }
    return j0;
}
#endif

/* C[M x N] = (accumulate ? C : bias row or 0) + A[M x K] B[K x N], row-major
 * with leading dimensions K, N, N. The main loop keeps a 4 x 8 tile of C in
 * eight 4-wide vector registers (GCC/Clang vector extensions, which fall
 * back to scalar code where there is no SIMD); with AVX-512, gemm_wide does
 * all of it. */
static void gemm(int M, int N, int K, const double *restrict A, const double *restrict B,
                 double *restrict C, int accumulate, const double *restrict bias)
{
    enum { TR = 4, TC = 8 };
    const v4d zero = {0, 0, 0, 0};
    int j0 = 0;
#if defined(__AVX512F__)
    j0 = gemm_wide(M, N, K, A, B, C, accumulate, bias);
#endif
    if (M < TR) {
        /* a few rows (acting on one observation): 32 columns at a time so
         * that eight independent accumulators hide the FMA latency */
        for (; j0 + 32 <= N; j0 += 32)
            for (int i = 0; i < M; i++) {
                double *ci = C + (size_t)i * N + j0;
                v4d s[8];
                for (int v = 0; v < 8; v++)
                    s[v] = accumulate ? load4(ci + 4 * v)
                                      : (bias ? load4(bias + j0 + 4 * v) : zero);
                const double *ai = A + (size_t)i * K;
                const double *bk = B + j0;
                for (int k = 0; k < K; k++, bk += N) {
                    v4d x = zero + ai[k];
                    for (int v = 0; v < 8; v++)
                        s[v] += x * load4(bk + 4 * v);
                }
                for (int v = 0; v < 8; v++)
                    store4(ci + 4 * v, s[v]);
            }
    }
    for (; j0 + TC <= N; j0 += TC) {
        v4d init0 = zero, init1 = zero;
        if (!accumulate && bias) {
            init0 = load4(bias + j0);
            init1 = load4(bias + j0 + 4);
        }
        int i = 0;
        for (; i + 6 <= M; i += 6) {
            /* 6 x 8: twelve accumulators, two loads of B per k */
            v4d c[6][2];
            for (int r = 0; r < 6; r++) {
                double *cr = C + (size_t)(i + r) * N + j0;
                c[r][0] = accumulate ? load4(cr) : init0;
                c[r][1] = accumulate ? load4(cr + 4) : init1;
            }
            const double *a0 = A + (size_t)i * K;
            const double *bk = B + j0;
            for (int k = 0; k < K; k++, bk += N) {
                v4d b0 = load4(bk), b1 = load4(bk + 4);
                for (int r = 0; r < 6; r++) {
                    v4d x = zero + a0[(size_t)r * K + k];
                    c[r][0] += x * b0;
                    c[r][1] += x * b1;
                }
            }
            for (int r = 0; r < 6; r++) {
                double *cr = C + (size_t)(i + r) * N + j0;
                store4(cr, c[r][0]);
                store4(cr + 4, c[r][1]);
            }
        }
        for (; i + TR <= M; i += TR) {
            v4d c00, c01, c10, c11, c20, c21, c30, c31;
            double *c0 = C + (size_t)i * N + j0, *c1 = c0 + N, *c2 = c1 + N, *c3 = c2 + N;
            if (accumulate) {
                c00 = load4(c0); c01 = load4(c0 + 4);
                c10 = load4(c1); c11 = load4(c1 + 4);
                c20 = load4(c2); c21 = load4(c2 + 4);
                c30 = load4(c3); c31 = load4(c3 + 4);
            } else {
                c00 = c10 = c20 = c30 = init0;
                c01 = c11 = c21 = c31 = init1;
            }
            const double *a0 = A + (size_t)i * K, *a1 = a0 + K, *a2 = a1 + K, *a3 = a2 + K;
            const double *bk = B + j0;
            for (int k = 0; k < K; k++, bk += N) {
                v4d b0 = load4(bk), b1 = load4(bk + 4);
                v4d x0 = zero + a0[k], x1 = zero + a1[k], x2 = zero + a2[k], x3 = zero + a3[k];
                c00 += x0 * b0; c01 += x0 * b1;
                c10 += x1 * b0; c11 += x1 * b1;
                c20 += x2 * b0; c21 += x2 * b1;
                c30 += x3 * b0; c31 += x3 * b1;
            }
            store4(c0, c00); store4(c0 + 4, c01);
            store4(c1, c10); store4(c1 + 4, c11);
            store4(c2, c20); store4(c2 + 4, c21);
            store4(c3, c30); store4(c3 + 4, c31);
        }
        for (; i < M; i++) {
            double *ci = C + (size_t)i * N + j0;
            v4d s0 = accumulate ? load4(ci) : init0, s1 = accumulate ? load4(ci + 4) : init1;
            const double *ai = A + (size_t)i * K;
            const double *bk = B + j0;
            for (int k = 0; k < K; k++, bk += N) {
                v4d x = zero + ai[k];
                s0 += x * load4(bk);
                s1 += x * load4(bk + 4);
            }
            store4(ci, s0);
            store4(ci + 4, s1);
        }
    }
    if (j0 < N) {
        /* the last few columns (and narrow outputs such as Q-values) */
        for (int i = 0; i < M; i++) {
            const double *ai = A + (size_t)i * K;
            double *ci = C + (size_t)i * N;
            for (int j = j0; j < N; j++) {
                double s = accumulate ? ci[j] : (bias ? bias[j] : 0.0);
                const double *bj = B + j;
                for (int k = 0; k < K; k++)
                    s += ai[k] * bj[(size_t)k * N];
                ci[j] = s;
            }
        }
    }
}

/* T[cols x rows] = X[rows x cols]^T */
static void transpose(const double *restrict X, int rows, int cols, double *restrict T)
{
    enum { BS = 16 };
    for (int i0 = 0; i0 < rows; i0 += BS)
        for (int j0 = 0; j0 < cols; j0 += BS) {
            int i1 = i0 + BS < rows ? i0 + BS : rows;
            int j1 = j0 + BS < cols ? j0 + BS : cols;
            for (int i = i0; i < i1; i++)
                for (int j = j0; j < j1; j++)
                    T[(size_t)j * rows + i] = X[(size_t)i * cols + j];
        }
}

/* ------------------------------------------------------------ lifecycle */

cl_status nn_mlp_create(int n_in, const int *hidden, int n_hidden, int n_out,
                        nn_act hidden_act, nn_act out_act, nn_mlp **out)
{
    if (!out)
        return CL_ERR_INVALID;
    *out = NULL;
    if (n_hidden < 0 || n_hidden + 1 > NN_MLP_MAX_LAYERS || (n_hidden > 0 && !hidden))
        return CL_ERR_INVALID;
    if (n_in < 1 || n_in > NN_MLP_MAX_WIDTH || n_out < 1 || n_out > NN_MLP_MAX_WIDTH)
        return CL_ERR_INVALID;
    /* the squashes are output activations only */
    if ((unsigned)hidden_act > NN_ACT_POLY2 || (unsigned)out_act > NN_ACT_SQUASH5)
        return CL_ERR_INVALID;
    for (int i = 0; i < n_hidden; i++)
        if (hidden[i] < 1 || hidden[i] > NN_MLP_MAX_WIDTH)
            return CL_ERR_INVALID;
    nn_mlp *net = calloc(1, sizeof *net);
    if (!net)
        return CL_ERR_NOMEM;
    net->n_layers = n_hidden + 1;
    net->sizes[0] = n_in;
    for (int i = 0; i < n_hidden; i++)
        net->sizes[i + 1] = hidden[i];
    net->sizes[net->n_layers] = n_out;
    net->hidden_act = hidden_act;
    net->out_act = out_act;
    size_t off = 0;
    for (int l = 0; l < net->n_layers; l++) {
        net->w_off[l] = off;
        off += (size_t)net->sizes[l] * (size_t)net->sizes[l + 1];
        net->b_off[l] = off;
        off += (size_t)net->sizes[l + 1];
    }
    net->n_params = off;
    net->params = calloc(off, sizeof(double));
    if (!net->params) {
        free(net);
        return CL_ERR_NOMEM;
    }
    *out = net;
    return CL_OK;
}

void nn_mlp_free(nn_mlp *net)
{
    if (!net)
        return;
    free(net->params);
    free(net);
}

cl_status nn_mlp_set_act_bound(nn_mlp *net, double b)
{
    if (!net || !isfinite(b) || !(b > 0.0))
        return CL_ERR_INVALID;
    net->act_bound = b;
    return CL_OK;
}

int nn_mlp_uses_poly2(const nn_mlp *net)
{
    return net && (net->hidden_act == NN_ACT_POLY2 || net->out_act == NN_ACT_POLY2);
}

cl_status nn_mlp_set_squash_bound(nn_mlp *net, double A)
{
    if (!net || !isfinite(A) || !(A > 0.0))
        return CL_ERR_INVALID;
    net->squash_bound = A;
    return CL_OK;
}

int nn_mlp_uses_squash(const nn_mlp *net)
{
    return net && (net->out_act == NN_ACT_SQUASH3 || net->out_act == NN_ACT_SQUASH5);
}

static int bound_ok(double b) { return isfinite(b) && b > 0.0; }

/* 1 for the activations evaluated as a polynomial of the pre-activation */
static int is_poly_act(nn_act act)
{
    return act == NN_ACT_POLY2 || act == NN_ACT_SQUASH3 || act == NN_ACT_SQUASH5;
}

/* p(x) = x/2 + x^2/(2b): the ReLU quadratic without its constant, as the HE
 * networks build it */
static nn_poly poly2_of(double bound)
{
    nn_poly p = nn_relu_quadratic(bound);
    p.c[0] = 0.0;
    return p;
}

/* The polynomials of net's activations: p of NN_ACT_POLY2 and the output
 * squash f. 0 if a bound they need is not set. */
static int polys_of(const nn_mlp *net, nn_poly *p, nn_poly *f)
{
    const int poly = nn_mlp_uses_poly2(net), squash = nn_mlp_uses_squash(net);
    if ((poly && !bound_ok(net->act_bound)) || (squash && !bound_ok(net->squash_bound)))
        return 0;
    *p = poly2_of(poly ? net->act_bound : 1.0);
    *f = nn_squash_poly(net->out_act == NN_ACT_SQUASH5 ? 5 : 3, squash ? net->squash_bound : 1.0);
    return 1;
}

static nn_act layer_act(const nn_mlp *net, int l) /* activation of dense layer l */
{
    return l + 1 == net->n_layers ? net->out_act : net->hidden_act;
}

int nn_mlp_inputs(const nn_mlp *net) { return net->sizes[0]; }
int nn_mlp_outputs(const nn_mlp *net) { return net->sizes[net->n_layers]; }

void nn_mlp_init_default(nn_mlp *net, nn_uniform_fn uniform, void *ctx)
{
    for (int l = 0; l < net->n_layers; l++) {
        double bound = 1.0 / sqrt((double)net->sizes[l]);
        size_t nw = (size_t)net->sizes[l] * (size_t)net->sizes[l + 1];
        double *w = net->params + net->w_off[l];
        for (size_t i = 0; i < nw; i++)
            w[i] = (2.0 * uniform(ctx) - 1.0) * bound;
        double *b = net->params + net->b_off[l];
        for (int j = 0; j < net->sizes[l + 1]; j++)
            b[j] = (2.0 * uniform(ctx) - 1.0) * bound;
    }
}

int nn_mlp_same_arch(const nn_mlp *a, const nn_mlp *b)
{
    if (!a || !b || a->n_layers != b->n_layers || a->hidden_act != b->hidden_act ||
        a->out_act != b->out_act)
        return 0;
    if (nn_mlp_uses_poly2(a) && a->act_bound != b->act_bound)
        return 0;
    if (nn_mlp_uses_squash(a) && a->squash_bound != b->squash_bound)
        return 0;
    for (int l = 0; l <= a->n_layers; l++)
        if (a->sizes[l] != b->sizes[l])
            return 0;
    return 1;
}

cl_status nn_mlp_copy_params(nn_mlp *dst, const nn_mlp *src)
{
    if (!nn_mlp_same_arch(dst, src))
        return CL_ERR_PARAMS;
    memcpy(dst->params, src->params, src->n_params * sizeof(double));
    return CL_OK;
}

cl_status nn_mlp_polyak(nn_mlp *dst, const nn_mlp *src, double tau)
{
    if (!nn_mlp_same_arch(dst, src))
        return CL_ERR_PARAMS;
    if (tau == 1.0)
        return nn_mlp_copy_params(dst, src);
    double *restrict d = dst->params;
    const double *restrict s = src->params;
    double keep = 1.0 - tau;
    for (size_t i = 0; i < dst->n_params; i++)
        d[i] = d[i] * keep + tau * s[i];
    return CL_OK;
}

/* ------------------------------------------------------------ workspace */

cl_status nn_mlp_ws_create(const nn_mlp *net, int max_batch, nn_mlp_ws **out)
{
    if (!out)
        return CL_ERR_INVALID;
    *out = NULL;
    if (!net || max_batch < 1 || max_batch > (1 << 24))
        return CL_ERR_INVALID;
    nn_mlp_ws *ws = calloc(1, sizeof *ws);
    if (!ws)
        return CL_ERR_NOMEM;
    ws->max_batch = max_batch;
    ws->n_layers = net->n_layers;
    size_t B = (size_t)max_batch, maxw = 0, scratch = 0, total = 0;
    for (int l = 0; l <= net->n_layers; l++) {
        ws->sizes[l] = net->sizes[l];
        if ((size_t)net->sizes[l] > maxw)
            maxw = (size_t)net->sizes[l];
        total += B * (size_t)net->sizes[l];
        if (l > 0 && is_poly_act(layer_act(net, l - 1)))
            total += B * (size_t)net->sizes[l];
    }
    for (int l = 0; l < net->n_layers; l++) {
        size_t a = B * (size_t)net->sizes[l];
        size_t w = (size_t)net->sizes[l] * (size_t)net->sizes[l + 1];
        if (a > scratch)
            scratch = a;
        if (w > scratch)
            scratch = w;
    }
    total += 2 * B * maxw + scratch;
    double *block = malloc(total * sizeof(double));
    if (!block) {
        free(ws);
        return CL_ERR_NOMEM;
    }
    ws->block = block;
    double *p = block;
    for (int l = 0; l <= net->n_layers; l++) {
        ws->act[l] = p;
        p += B * (size_t)net->sizes[l];
        if (l > 0 && is_poly_act(layer_act(net, l - 1))) {
            ws->pre[l] = p;
            p += B * (size_t)net->sizes[l];
        }
    }
    ws->delta_a = p;
    p += B * maxw;
    ws->delta_b = p;
    p += B * maxw;
    ws->scratch = p;
    *out = ws;
    return CL_OK;
}

void nn_mlp_ws_free(nn_mlp_ws *ws)
{
    if (!ws)
        return;
    free(ws->block);
    free(ws);
}

int nn_mlp_ws_max_batch(const nn_mlp_ws *ws) { return ws->max_batch; }

static int ws_fits(const nn_mlp *net, const nn_mlp_ws *ws)
{
    if (!net || !ws || net->n_layers != ws->n_layers)
        return 0;
    for (int l = 0; l <= net->n_layers; l++)
        if (net->sizes[l] != ws->sizes[l])
            return 0;
    for (int l = 0; l < net->n_layers; l++)
        if (is_poly_act(layer_act(net, l)) && !ws->pre[l + 1])
            return 0;
    return 1;
}

/* --------------------------------------------------------- forward/back */

/* y <- act(y); for the polynomial activations, y <- p(z) with z the
 * pre-activation and p the layer's polynomial */
static void apply_act(nn_act act, const nn_poly *p, const double *restrict z, double *restrict y,
                      size_t n)
{
    switch (act) {
    case NN_ACT_POLY2:
    case NN_ACT_SQUASH3:
    case NN_ACT_SQUASH5:
        for (size_t i = 0; i < n; i++)
            y[i] = nn_poly_eval(p, z[i]);
        break;
    case NN_ACT_RELU:
        for (size_t i = 0; i < n; i++)
            y[i] = y[i] > 0.0 ? y[i] : 0.0;
        break;
    case NN_ACT_TANH:
        for (size_t i = 0; i < n; i++)
            y[i] = tanh(y[i]);
        break;
    case NN_ACT_IDENTITY:
        break;
    }
}

/* d <- d * act'(z), from y = act(z) (or from z itself for the polynomial
 * activations, dp the derivative of the layer's polynomial) */
static void act_backward(nn_act act, const nn_poly *dp, const double *restrict y,
                         const double *restrict z, double *restrict d, size_t n)
{
    switch (act) {
    case NN_ACT_POLY2:
    case NN_ACT_SQUASH3:
    case NN_ACT_SQUASH5:
        for (size_t i = 0; i < n; i++)
            d[i] *= nn_poly_eval(dp, z[i]);
        break;
    case NN_ACT_RELU:
        for (size_t i = 0; i < n; i++)
            d[i] = y[i] > 0.0 ? d[i] : 0.0;
        break;
    case NN_ACT_TANH:
        for (size_t i = 0; i < n; i++)
            d[i] *= 1.0 - y[i] * y[i];
        break;
    case NN_ACT_IDENTITY:
        break;
    }
}

const double *nn_mlp_forward(const nn_mlp *net, nn_mlp_ws *ws, const double *x, int batch)
{
    if (!ws_fits(net, ws) || !x || batch < 1 || batch > ws->max_batch)
        return NULL;
    nn_poly p, f;
    if (!polys_of(net, &p, &f))
        return NULL;
    memcpy(ws->act[0], x, (size_t)batch * (size_t)net->sizes[0] * sizeof(double));
    for (int l = 0; l < net->n_layers; l++) {
        int n = net->sizes[l], m = net->sizes[l + 1];
        nn_act act = layer_act(net, l);
        double *z = is_poly_act(act) ? ws->pre[l + 1] : ws->act[l + 1];
        gemm(batch, m, n, ws->act[l], net->params + net->w_off[l], z, 0,
             net->params + net->b_off[l]);
        apply_act(act, act == NN_ACT_POLY2 ? &p : &f, z, ws->act[l + 1], (size_t)batch * (size_t)m);
    }
    ws->batch = batch;
    return ws->act[net->n_layers];
}

cl_status nn_mlp_backward(const nn_mlp *net, nn_mlp_ws *ws, const double *dout,
                          double *grad, double *dx)
{
    if (!ws_fits(net, ws) || !dout || ws->batch < 1)
        return CL_ERR_INVALID;
    int B = ws->batch, L = net->n_layers;
    nn_poly p, f;
    if (!polys_of(net, &p, &f))
        return CL_ERR_INVALID;
    const nn_poly dp = nn_poly_derivative(&p), df = nn_poly_derivative(&f);
    double *dz = ws->delta_a, *dprev = ws->delta_b;
    memcpy(dz, dout, (size_t)B * (size_t)net->sizes[L] * sizeof(double));
    act_backward(net->out_act, net->out_act == NN_ACT_POLY2 ? &dp : &df, ws->act[L], ws->pre[L], dz,
                 (size_t)B * (size_t)net->sizes[L]);
    for (int l = L - 1; l >= 0; l--) {
        int n = net->sizes[l], m = net->sizes[l + 1];
        if (grad) {
            /* dW += X^T dZ, db += column sums of dZ */
            transpose(ws->act[l], B, n, ws->scratch);
            gemm(n, m, B, ws->scratch, dz, grad + net->w_off[l], 1, NULL);
            double *restrict db = grad + net->b_off[l];
            for (int b = 0; b < B; b++) {
                const double *restrict row = dz + (size_t)b * m;
                for (int j = 0; j < m; j++)
                    db[j] += row[j];
            }
        }
        if (l == 0 && !dx)
            break;
        /* dX = dZ W^T */
        transpose(net->params + net->w_off[l], n, m, ws->scratch);
        double *dst = l == 0 ? dx : dprev;
        gemm(B, n, m, dz, ws->scratch, dst, 0, NULL);
        if (l > 0) {
            act_backward(net->hidden_act, &dp, ws->act[l], ws->pre[l], dprev,
                         (size_t)B * (size_t)n);
            double *t = dz;
            dz = dprev;
            dprev = t;
        }
    }
    return CL_OK;
}
