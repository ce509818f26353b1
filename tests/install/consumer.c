/* A program outside the project, built against an installed cipherl with
 * nothing but `pkg-config --cflags --libs cipherl` (tests/install/check.cmake):
 * all seven public headers compile in a program of its own, and the library
 * links and works.
 * It encrypts, multiplies and decrypts at the insecure test preset, checks
 * that the same preset is refused without the insecure flag, and pushes
 * CartPole-v1's cart right until the pole falls. Exit status 0 and the line
 * "consumer ok VERSION" (cl_version_string()) when all holds. */
#include <cipherl/ckks.h>
#include <cipherl/common.h>
#include <cipherl/net.h>
#include <cipherl/nn.h>
#include <cipherl/ring.h>
#include <cipherl/rl.h>
#include <cipherl/slots.h>

#include <math.h>
#include <stdio.h>

static int fail(const char *what, cl_status st)
{
    fprintf(stderr, "consumer: %s: %s\n", what, cl_strerror(st));
    return 1;
}

int main(void)
{
    ckks_params *p = NULL, *refused = NULL;
    ckks_secret_key *sk = NULL;
    ckks_eval_keys *keys = NULL;
    ckks_encoder *enc = NULL;
    ckks_evaluator *ev = NULL;
    ckks_plaintext *pt = NULL;
    ckks_ciphertext *ct = NULL;
    rl_env *env = NULL;
    cl_status st;
    int rc = 1;
    double v[4] = {0.5, -1.25, 2.0, 0.75}, out[4];

    if ((st = ckks_params_from_preset("test-n10", 0, &refused)) != CL_ERR_INSECURE) {
        fprintf(stderr, "consumer: an insecure preset without the flag gave '%s'\n", cl_strerror(st));
        goto done;
    }
    if ((st = ckks_params_from_preset("test-n10", CKKS_ALLOW_INSECURE, &p)) != CL_OK ||
        (st = ckks_secret_key_create(p, &sk)) != CL_OK ||
        (st = ckks_eval_keys_create(sk, CKKS_KEYS_RELIN, NULL, 0, &keys)) != CL_OK ||
        (st = ckks_encoder_create(p, &enc)) != CL_OK || (st = ckks_evaluator_create(p, keys, &ev)) != CL_OK ||
        (st = ckks_plaintext_create(p, &pt)) != CL_OK || (st = ckks_ciphertext_create(p, &ct)) != CL_OK) {
        rc = fail("setting up CKKS", st);
        goto done;
    }
    if ((st = ckks_encode(enc, v, 4, ckks_params_max_slots(p), ckks_params_max_level(p),
                          ckks_params_default_scale(p), pt)) != CL_OK ||
        (st = ckks_encrypt_sk(sk, pt, ct)) != CL_OK || (st = ckks_mul_relin(ev, ct, ct, ct)) != CL_OK ||
        (st = ckks_rescale(ev, ct, ct)) != CL_OK || (st = ckks_decrypt(sk, ct, pt)) != CL_OK ||
        (st = ckks_decode(enc, pt, out, NULL, 4)) != CL_OK) {
        rc = fail("squaring a ciphertext", st);
        goto done;
    }
    for (int i = 0; i < 4; i++)
        if (!(fabs(out[i] - v[i] * v[i]) < 1e-3)) {
            fprintf(stderr, "consumer: slot %d decrypts to %g, not %g\n", i, out[i], v[i] * v[i]);
            goto done;
        }

    double obs[4], reward;
    bool term = false, trunc = false;
    rl_rng rng;
    rl_rng_seed(&rng, 1);
    int steps = 0;
    if ((st = rl_env_create("CartPole-v1", &env)) != CL_OK) {
        rc = fail("CartPole-v1", st);
        goto done;
    }
    rl_env_reset(env, &rng, obs);
    while (!term && !trunc && steps < 1000) {
        double action = 1; /* always push right: the pole falls within a few dozen steps */
        if ((st = rl_env_step(env, &action, obs, &reward, &term, &trunc)) != CL_OK) {
            rc = fail("stepping CartPole-v1", st);
            goto done;
        }
        steps++;
    }
    if (!term || trunc || steps < 5 || steps > 100) {
        fprintf(stderr, "consumer: pushing right, CartPole-v1 ended after %d steps (terminated %d)\n", steps, term);
        goto done;
    }
    printf("consumer ok %s\n", cl_version_string());
    rc = 0;
done:
    rl_env_free(env);
    ckks_ciphertext_free(ct);
    ckks_plaintext_free(pt);
    ckks_evaluator_free(ev);
    ckks_encoder_free(enc);
    ckks_eval_keys_free(keys);
    ckks_secret_key_free(sk);
    ckks_params_free(p);
    ckks_params_free(refused);
    return rc;
}
