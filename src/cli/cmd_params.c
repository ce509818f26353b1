/* cipherl params: the CKKS parameter presets. */
#include <stdio.h>
#include <string.h>

#include "cipherl/ckks.h"
#include "cli/cli.h"

int cli_cmd_params(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: cipherl params\n  Lists the CKKS parameter presets with their security status.\n");
            return 0;
        }
        cli_error("params: unknown option '%s'", argv[i]);
        return 2;
    }
    printf("%-9s %6s %6s %-22s %-10s %8s %6s %6s  %s\n", "preset", "N", "slots", "ciphertext primes",
           "special", "log2 QP", "digits", "levels", "security");
    for (size_t i = 0; i < ckks_preset_count(); i++) {
        const ckks_param_spec *s = ckks_preset_at(i);
        ckks_params *p = NULL;
        cl_status st = ckks_params_create(s, CKKS_ALLOW_INSECURE, &p);
        if (st != CL_OK) {
            cli_error("params: preset %s: %s", s->name, cl_strerror(st));
            return 1;
        }
        char primes[64], special[32];
        snprintf(primes, sizeof primes, "%d + %dx%d bits", s->first_bits, s->levels, s->scale_bits);
        snprintf(special, sizeof special, "%dx%d bits", s->special_count, s->special_bits);
        const int bound = ckks_security_bound(s->logn);
        char sec[64];
        if (ckks_params_is_secure(p))
            snprintf(sec, sizeof sec, "128-bit (bound %d)", bound);
        else
            snprintf(sec, sizeof sec, "INSECURE, for tests only");
        printf("%-9s %6zu %6zu %-22s %-10s %8.1f %6d %6d  %s\n", s->name, ckks_params_n(p),
               ckks_params_max_slots(p), primes, special, ckks_params_log2_qp(p), ckks_params_spec(p)->digits,
               ckks_params_max_level(p), sec);
        ckks_params_free(p);
    }
    return 0;
}
