/* cipherl model: operations on model files. `model diff A B` compares two
 * policies of one architecture, weight by weight (the fidelity of an
 * encrypted run against its clear twin). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cipherl/nn.h"
#include "cipherl/rl.h"
#include "cli/cli.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: cipherl model diff A B [--json]\n"
               "       cipherl model pull --server ADDR --keys DIR --out MODEL [--server-key K]\n"
               "  pull: downloads the encrypted weights the platform trained for this owner,\n"
               "  decrypts them here and writes a model file that 'cipherl eval' runs.\n"
               "  Loads two model files and prints the largest absolute difference between\n"
               "  their weights (and biases), and between the two networks' largest weights.\n"
               "  Both must be the same algorithm, environment and architecture.\n"
               "  --json: one object {\"max_abs_diff\", \"max_abs_weight\", \"params\"}.\n");
}

static int load(const char *path, rl_policy **out)
{
    cl_status st = rl_policy_load(path, out);
    if (st == CL_OK)
        return 0;
    if (st == CL_ERR_IO)
        cli_error("model: cannot read '%s': %s", path, strerror(errno));
    else
        cli_error("model: '%s' is not a usable model file: %s", path, cl_strerror(st));
    return 1;
}

int cli_cmd_model(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "pull"))
        return cli_model_pull(argc - 1, argv + 1);
    if (strcmp(argv[1], "diff")) {
        cli_error("model: unknown subcommand '%s' (available: diff, pull)", argv[1]);
        return 2;
    }
    const char *files[2] = {NULL, NULL};
    int nf = 0, json = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("model diff: unknown option '%s'", argv[i]);
            return 2;
        } else if (nf < 2)
            files[nf++] = argv[i];
        else {
            cli_error("model diff: takes two model files");
            return 2;
        }
    }
    if (nf != 2) {
        cli_error("model diff: takes two model files");
        return 2;
    }
    rl_policy *a = NULL, *b = NULL;
    if (load(files[0], &a) || load(files[1], &b)) {
        rl_policy_free(a);
        return 1;
    }
    int rc = 0;
    double diff, big;
    size_t n;
    if (cli_policy_diff(a, b, &diff, &big, &n)) {
        cli_error("model diff: the two models differ in algorithm, environment or architecture");
        rc = 1;
    } else if (json) {
        printf("{\"max_abs_diff\": %.6e, \"max_abs_weight\": %.6e, \"params\": %zu}\n", diff, big, n);
    } else {
        printf("%zu parameters: largest difference %.3e (largest weight %.3e)\n", n, diff, big);
    }
    rl_policy_free(a);
    rl_policy_free(b);
    return rc;
}
