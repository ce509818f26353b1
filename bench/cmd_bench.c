/* cipherl bench ckks: milliseconds per CKKS operation, measured as
 * shared/anchors.md describes (full-slot vectors of doubles in [-0.5, 0.5],
 * ciphertexts at the top level, scale 2^40, medians after a warm-up). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cipherl/ckks.h"
#include "cli/cli.h"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct stat3 {
    double median, min, max;
} stat3;

static stat3 summarize(double *v, int reps)
{
    qsort(v, (size_t)reps, sizeof *v, cmp_double);
    stat3 s = {reps % 2 ? v[reps / 2] : 0.5 * (v[reps / 2 - 1] + v[reps / 2]), v[0], v[reps - 1]};
    return s;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: cipherl bench ckks [--preset NAME] [--threads T] [--reps R] [--json]\n"
               "       cipherl bench train --env ENV [--algo dqn|td3] [--preset P] [--steps K] [--json]\n"
               "       cipherl bench plain --env ENV [--algo dqn|td3] [--steps K] [--reps R] [--json]\n"
               "  ('cipherl bench train --help' and 'cipherl bench plain --help' describe those two.)\n\n"
               "  bench ckks: median milliseconds per CKKS operation on full-slot vectors at the\n"
               "  top level.\n"
               "  --preset NAME  parameter preset (default n14; see 'cipherl params')\n"
               "  --threads T    OpenMP threads (default 1)\n"
               "  --reps R       repetitions per operation after one warm-up (default 20)\n"
               "  --json         one JSON object instead of a table\n");
}

#define NOPS 8
static const char *op_names[NOPS] = {"encode", "encrypt (public key)", "decrypt + decode", "add",
                                     "multiply by plaintext", "multiply + relinearize", "rescale",
                                     "rotate (one step)"};
static const char *op_keys[NOPS] = {"encode_ms", "encrypt_pk_ms", "decrypt_decode_ms", "add_ms",
                                    "mul_plain_ms", "mul_relin_ms", "rescale_ms", "rotate_ms"};

static int bench_ckks(const char *preset, int threads, int reps, bool json)
{
    ckks_params *params = NULL;
    ckks_secret_key *sk = NULL;
    ckks_public_key *pk = NULL;
    ckks_eval_keys *keys = NULL;
    ckks_encoder *enc = NULL;
    ckks_evaluator *ev = NULL;
    ckks_plaintext *px = NULL, *py = NULL, *pdec = NULL;
    ckks_ciphertext *cx = NULL, *cy = NULL, *cz = NULL;
    double *x = NULL, *y = NULL, *r = NULL, *times = NULL;
    int rc = 1;
    cl_status st;

    const ckks_param_spec *spec = ckks_preset_find(preset);
    if (!spec) {
        cli_error("bench: unknown preset '%s' (see 'cipherl params')", preset);
        return 2;
    }
    ckks_set_threads(threads);
    if (!json)
        fprintf(stderr, "bench: preset %s%s, %d thread%s, %d repetitions; generating keys...\n", preset,
                spec->insecure ? " (INSECURE, for tests)" : "", threads, threads == 1 ? "" : "s", reps);
    const int one = 1;
    if ((st = ckks_params_create(spec, CKKS_ALLOW_INSECURE, &params)) != CL_OK ||
        (st = ckks_secret_key_create(params, &sk)) != CL_OK ||
        (st = ckks_public_key_create(sk, &pk)) != CL_OK ||
        (st = ckks_eval_keys_create(sk, CKKS_KEYS_RELIN, &one, 1, &keys)) != CL_OK ||
        (st = ckks_encoder_create(params, &enc)) != CL_OK ||
        (st = ckks_evaluator_create(params, keys, &ev)) != CL_OK ||
        (st = ckks_plaintext_create(params, &px)) != CL_OK || (st = ckks_plaintext_create(params, &py)) != CL_OK ||
        (st = ckks_plaintext_create(params, &pdec)) != CL_OK ||
        (st = ckks_ciphertext_create(params, &cx)) != CL_OK || (st = ckks_ciphertext_create(params, &cy)) != CL_OK ||
        (st = ckks_ciphertext_create(params, &cz)) != CL_OK) {
        cli_error("bench: setup failed: %s", cl_strerror(st));
        goto out;
    }
    const size_t slots = ckks_params_max_slots(params);
    const int top = ckks_params_max_level(params);
    const double scale = ckks_params_default_scale(params);
    x = malloc(slots * sizeof *x);
    y = malloc(slots * sizeof *y);
    r = malloc(slots * sizeof *r);
    times = malloc((size_t)reps * sizeof *times);
    if (!x || !y || !r || !times) {
        cli_error("bench: out of memory");
        goto out;
    }
    srand(1);
    for (size_t i = 0; i < slots; i++) {
        x[i] = (double)rand() / RAND_MAX - 0.5;
        y[i] = (double)rand() / RAND_MAX - 0.5;
    }
    if ((st = ckks_encode(enc, x, slots, slots, top, scale, px)) != CL_OK ||
        (st = ckks_encode(enc, y, slots, slots, top, scale, py)) != CL_OK ||
        (st = ckks_encrypt_pk(pk, px, cx)) != CL_OK || (st = ckks_encrypt_pk(pk, py, cy)) != CL_OK) {
        cli_error("bench: %s", cl_strerror(st));
        goto out;
    }

    stat3 res[NOPS];
    for (int op = 0; op < NOPS; op++) {
        for (int rep = -1; rep < reps; rep++) { /* rep -1 is the warm-up */
            st = CL_OK;
            if (op == 6) /* rescale needs a fresh product each time (not timed) */
                st = ckks_mul_relin(ev, cx, cy, cz);
            double t0 = now_ms();
            switch (op) {
            case 0: st = ckks_encode(enc, x, slots, slots, top, scale, pdec); break;
            case 1: st = ckks_encrypt_pk(pk, px, cz); break;
            case 2:
                st = ckks_decrypt(sk, cx, pdec);
                if (st == CL_OK)
                    st = ckks_decode(enc, pdec, r, NULL, slots);
                break;
            case 3: st = ckks_add(ev, cx, cy, cz); break;
            case 4: st = ckks_mul_plain(ev, cx, py, cz); break;
            case 5: st = ckks_mul_relin(ev, cx, cy, cz); break;
            case 6: st = ckks_rescale(ev, cz, cz); break;
            case 7: st = ckks_rotate(ev, cx, 1, cz); break;
            }
            double t1 = now_ms();
            if (st != CL_OK) {
                cli_error("bench: %s: %s", op_names[op], cl_strerror(st));
                goto out;
            }
            if (rep >= 0)
                times[rep] = t1 - t0;
        }
        res[op] = summarize(times, reps);
    }

    /* Precision of x*y after rescale: -log2 of the largest slot error. */
    if ((st = ckks_mul_relin(ev, cx, cy, cz)) != CL_OK || (st = ckks_rescale(ev, cz, cz)) != CL_OK ||
        (st = ckks_decrypt(sk, cz, pdec)) != CL_OK || (st = ckks_decode(enc, pdec, r, NULL, slots)) != CL_OK) {
        cli_error("bench: precision: %s", cl_strerror(st));
        goto out;
    }
    double err = 0;
    for (size_t i = 0; i < slots; i++)
        err = fmax(err, fabs(r[i] - x[i] * y[i]));
    const double bits = -log2(err);

    if (json) {
        printf("{\"preset\": \"%s\", \"threads\": %d", preset, threads);
        for (int op = 0; op < NOPS; op++)
            printf(", \"%s\": %.4f", op_keys[op], res[op].median);
        printf(", \"mult_precision_bits\": %.2f}\n", bits);
    } else {
        printf("preset %s: N = %zu, %d levels, log2 QP = %.1f, %d digits, %s; %d thread%s, median of %d\n",
               preset, ckks_params_n(params), top, ckks_params_log2_qp(params), ckks_params_spec(params)->digits,
               ckks_params_is_secure(params) ? "128-bit" : "INSECURE", threads, threads == 1 ? "" : "s", reps);
        printf("%-24s %10s %10s %10s\n", "operation", "median ms", "min ms", "max ms");
        for (int op = 0; op < NOPS; op++)
            printf("%-24s %10.3f %10.3f %10.3f\n", op_names[op], res[op].median, res[op].min, res[op].max);
        printf("%-24s %10.2f bits\n", "precision of x*y", bits);
    }
    rc = 0;
out:
    free(x);
    free(y);
    free(r);
    free(times);
    ckks_ciphertext_free(cx);
    ckks_ciphertext_free(cy);
    ckks_ciphertext_free(cz);
    ckks_plaintext_free(px);
    ckks_plaintext_free(py);
    ckks_plaintext_free(pdec);
    ckks_evaluator_free(ev);
    ckks_encoder_free(enc);
    ckks_eval_keys_free(keys);
    ckks_public_key_free(pk);
    ckks_secret_key_free(sk);
    ckks_params_free(params);
    return rc;
}

static bool parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

int cli_cmd_bench(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "train"))
        return cli_bench_train(argc - 1, argv + 1);
    if (!strcmp(argv[1], "plain"))
        return cli_bench_plain(argc - 1, argv + 1);
    if (strcmp(argv[1], "ckks") != 0) {
        cli_error("bench: unknown benchmark '%s' (available: ckks, train, plain)", argv[1]);
        return 2;
    }
    const char *preset = "n14";
    int threads = 1, reps = 20;
    bool json = false;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) {
            json = true;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if ((!strcmp(a, "--preset") || !strcmp(a, "--threads") || !strcmp(a, "--reps")) && i + 1 < argc) {
            const char *v = argv[++i];
            if (!strcmp(a, "--preset")) {
                preset = v;
            } else if (!strcmp(a, "--threads") ? !parse_int(v, 1, 256, &threads) : !parse_int(v, 1, 100000, &reps)) {
                cli_error("bench: %s needs a positive integer, got '%s'", a, v);
                return 2;
            }
        } else {
            cli_error("bench: unknown or incomplete option '%s'", a);
            usage(stderr);
            return 2;
        }
    }
    return bench_ckks(preset, threads, reps, json);
}
