/* cipherl demo: the main job on embedded defaults.
 *
 * Until encrypted training lands, the demo is a CKKS round trip at a 128-bit
 * preset: keys, encryption of a vector, an encrypted computation with every
 * kind of operation (multiply, relinearize, rescale, rotate, add), decryption,
 * and the error against the same computation in doubles. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cipherl/ckks.h"
#include "cli/cli.h"

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int cli_cmd_demo(int argc, char **argv)
{
    const char *preset = "n14";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: cipherl demo [--preset NAME]\n"
                   "  A CKKS round trip at a 128-bit preset (default n14): encrypt, compute\n"
                   "  y = rotate(x, 1) * x + x on ciphertexts, decrypt, compare with doubles.\n");
            return 0;
        }
        if (!strcmp(argv[i], "--preset") && i + 1 < argc) {
            preset = argv[++i];
            continue;
        }
        cli_error("demo: unknown or incomplete option '%s'", argv[i]);
        return 2;
    }
    ckks_params *p = NULL;
    ckks_secret_key *sk = NULL;
    ckks_public_key *pk = NULL;
    ckks_eval_keys *ek = NULL;
    ckks_encoder *enc = NULL;
    ckks_evaluator *ev = NULL;
    ckks_plaintext *pt = NULL;
    ckks_ciphertext *cx = NULL, *cr = NULL, *cy = NULL;
    double *x = NULL, *y = NULL, *want = NULL;
    int rc = 1;
    cl_status st;
    const int step = 1;
    double t0 = seconds();

    if (!ckks_preset_find(preset)) {
        cli_error("demo: unknown preset '%s' (see 'cipherl params')", preset);
        return 2;
    }
    printf("cipherl demo: CKKS round trip at preset %s\n", preset);
    printf("[1/4] parameters and keys (secret key from getrandom)...\n");
    fflush(stdout);
    if ((st = ckks_params_from_preset(preset, 0, &p)) != CL_OK) {
        cli_error("demo: preset %s: %s", preset, cl_strerror(st));
        return 1;
    }
    if ((st = ckks_secret_key_create(p, &sk)) != CL_OK || (st = ckks_public_key_create(sk, &pk)) != CL_OK ||
        (st = ckks_eval_keys_create(sk, CKKS_KEYS_RELIN, &step, 1, &ek)) != CL_OK ||
        (st = ckks_encoder_create(p, &enc)) != CL_OK || (st = ckks_evaluator_create(p, ek, &ev)) != CL_OK ||
        (st = ckks_plaintext_create(p, &pt)) != CL_OK || (st = ckks_ciphertext_create(p, &cx)) != CL_OK ||
        (st = ckks_ciphertext_create(p, &cr)) != CL_OK || (st = ckks_ciphertext_create(p, &cy)) != CL_OK)
        goto fail;
    const size_t slots = ckks_params_max_slots(p);
    x = malloc(slots * sizeof *x);
    y = malloc(slots * sizeof *y);
    want = malloc(slots * sizeof *want);
    if (!x || !y || !want) {
        st = CL_ERR_NOMEM;
        goto fail;
    }
    for (size_t i = 0; i < slots; i++)
        x[i] = sin(0.001 * (double)i) * 0.5;
    for (size_t i = 0; i < slots; i++)
        want[i] = x[(i + 1) % slots] * x[i] + x[i];

    printf("[2/4] encrypt %zu values with the public key...\n", slots);
    if ((st = ckks_encode(enc, x, slots, slots, ckks_params_max_level(p), ckks_params_default_scale(p), pt)) !=
            CL_OK ||
        (st = ckks_encrypt_pk(pk, pt, cx)) != CL_OK)
        goto fail;
    printf("[3/4] compute rotate(x, 1) * x + x on ciphertexts (evaluation keys only)...\n");
    /* rot(x) * x has scale D^2 and rescales to D^2/q_L. Multiplying x by the
     * constant 1 at scale D and rescaling gives exactly the same scale, so the
     * two can be added. */
    if ((st = ckks_rotate(ev, cx, 1, cr)) != CL_OK || (st = ckks_mul_relin(ev, cr, cx, cy)) != CL_OK ||
        (st = ckks_rescale(ev, cy, cy)) != CL_OK ||
        (st = ckks_mul_const(ev, cx, 1.0, ckks_ciphertext_scale(cx), cr)) != CL_OK ||
        (st = ckks_rescale(ev, cr, cr)) != CL_OK || (st = ckks_add(ev, cy, cr, cy)) != CL_OK)
        goto fail;
    printf("[4/4] decrypt and compare with the same computation in doubles...\n");
    if ((st = ckks_decrypt(sk, cy, pt)) != CL_OK || (st = ckks_decode(enc, pt, y, NULL, slots)) != CL_OK)
        goto fail;
    double err = 0;
    for (size_t i = 0; i < slots; i++)
        err = fmax(err, fabs(y[i] - want[i]));
    printf("\n  preset            %s (N = %zu, log2 QP = %.1f, %s)\n", preset, ckks_params_n(p),
           ckks_params_log2_qp(p), ckks_params_is_secure(p) ? "128-bit" : "INSECURE");
    printf("  slots             %zu\n", slots);
    printf("  levels left       %d of %d\n", ckks_ciphertext_level(cy), ckks_params_max_level(p));
    printf("  max abs error     %.3g (%.1f bits of precision)\n", err, -log2(err));
    printf("  wall time         %.2f s\n", seconds() - t0);
    rc = err < 1e-5 ? 0 : 1;
    if (rc)
        cli_error("demo: the decrypted result is off by %.3g", err);
    goto out;
fail:
    cli_error("demo: %s", cl_strerror(st));
out:
    free(x);
    free(y);
    free(want);
    ckks_ciphertext_free(cx);
    ckks_ciphertext_free(cr);
    ckks_ciphertext_free(cy);
    ckks_plaintext_free(pt);
    ckks_evaluator_free(ev);
    ckks_encoder_free(enc);
    ckks_eval_keys_free(ek);
    ckks_public_key_free(pk);
    ckks_secret_key_free(sk);
    ckks_params_free(p);
    return rc;
}
