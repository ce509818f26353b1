/* cipherl census — what one HE training step and one action selection cost:
 * operation counts, depth, refreshes at a CKKS preset's level budget (overall
 * and by phase of the training step), slots, width and Galois keys. Measured
 * by a short run of the HE algorithm on the clear backend (docs/experiment.md).
 *
 * The HE algorithm is a row of the shared table (cli/he_algo.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cipherl/ckks.h"
#include "cipherl/rl.h"
#include "cipherl/slots.h"
#include "cli/cli.h"
#include "cli/he_algo.h"

#define MAX_HP 64

static const char *kind_name(rl_action_kind k)
{
    return k == RL_ACTION_DISCRETE ? "discrete" : "continuous";
}

/* ---- output */

/* Levels used between refreshes: L - lowest level reached (0 when nothing
 * consumed a level). */
static int depth_of(const slots_counters *c, int levels)
{
    if (c->min_level < 0 || c->min_level >= levels)
        return 0;
    return levels - c->min_level;
}

/* levels < 0: no depth column value (the phases: the backend reports the
 * lowest level of the whole run, not of a phase) */
static void text_row(const char *name, const slots_counters *c, int levels)
{
    char depth[16] = "-";
    if (levels >= 0)
        snprintf(depth, sizeof depth, "%d", depth_of(c, levels));
    printf("  %-18s %10llu %10llu %10llu %10llu %10llu %6s %10llu\n", name,
           (unsigned long long)c->mul, (unsigned long long)c->mul_plain,
           (unsigned long long)c->mul_const, (unsigned long long)c->rotate,
           (unsigned long long)c->add, depth, (unsigned long long)c->refresh);
}

static void text_header(const char *first)
{
    printf("  %-18s %10s %10s %10s %10s %10s %6s %10s\n", first, "ct*ct mul", "plain mul",
           "const mul", "rotations", "additions", "depth", "refreshes");
}

/* levels < 0: no "depth" key (see text_row) */
static void json_counters(const slots_counters *c, int levels)
{
    printf("{\"mul_ct\": %llu, \"mul_plain\": %llu, \"mul_const\": %llu, \"rotations\": %llu, "
           "\"additions\": %llu, ",
           (unsigned long long)c->mul, (unsigned long long)c->mul_plain,
           (unsigned long long)c->mul_const, (unsigned long long)c->rotate,
           (unsigned long long)c->add);
    if (levels >= 0)
        printf("\"depth\": %d, ", depth_of(c, levels));
    printf("\"refreshes\": %llu, \"encryptions\": %llu, \"decryptions\": %llu}",
           (unsigned long long)c->refresh, (unsigned long long)c->encrypt,
           (unsigned long long)c->decrypt);
}

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static void census_usage(FILE *f)
{
    fprintf(f,
        "usage: cipherl census --env ENV --algo ALGO --preset P [--insecure]\n"
        "                      [--hp NAME=VALUE]... [--json]\n"
        "\n"
        "Counts what one training step and one action selection of the HE algorithm\n"
        "ALGO cost on ENV, measured by a short run on the clear backend at the level\n"
        "budget L of the CKKS preset P (see 'cipherl params'): ciphertext x ciphertext,\n"
        "plaintext and constant multiplications, rotations, additions, depth (levels\n"
        "used between refreshes) and refreshes, then the same for each phase of the\n"
        "training step (where the refreshes fall at that L), the slots S, the width D\n"
        "and the distinct rotation steps (the Galois keys an encrypted run needs).\n"
        "\n"
        "  --algo ALGO     dqn for discrete actions, td3 for continuous ones; default:\n"
        "                  by ENV's actions\n"
        "  --preset P      a CKKS preset; test presets (below 128-bit security) need\n"
        "                  --insecure\n"
        "  --hp NAME=VALUE an HE hyperparameter (docs/he-dqn.md, docs/he-td3.md), e.g. net_arch=32,\n"
        "                  batch_size=16, optimizer=he_adam|sgd|adam\n"
        "  --json          one JSON object instead of the tables (docs/experiment.md)\n");
}

int cli_cmd_census(int argc, char **argv)
{
    const char *env_id = NULL, *algo_s = NULL, *preset = NULL;
    const char *hps[MAX_HP];
    int n_hp = 0, json = 0, insecure = 0, missing = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            census_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--insecure")) {
            insecure = 1;
        } else if ((v = cli_opt_value(argc, argv, &i, "--env", &missing))) {
            env_id = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--algo", &missing))) {
            algo_s = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--preset", &missing))) {
            preset = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--hp", &missing))) {
            if (n_hp == MAX_HP) {
                cli_error("census: too many --hp options");
                return 2;
            }
            hps[n_hp++] = v;
        } else if (!missing) {
            cli_error("census: unknown option '%s' (try 'cipherl census --help')", argv[i]);
            return 2;
        }
        if (missing) {
            cli_error("census: option '%s' needs a value", argv[i]);
            return 2;
        }
    }
    if (!env_id) {
        cli_error("census: --env ENV is required (see 'cipherl env list')");
        return 2;
    }
    if (!preset) {
        cli_error("census: --preset P is required (see 'cipherl params')");
        return 2;
    }
    const rl_env_spec *spec = rl_env_find(env_id);
    if (!spec) {
        cli_error("census: unknown environment '%s' (see 'cipherl env list')", env_id);
        return 2;
    }
    const cli_he_algo *algo;
    if (algo_s) {
        algo = cli_he_algo_find(algo_s);
        if (!algo) {
            cli_error("census: unknown algorithm '%s' (dqn or td3)", algo_s);
            return 2;
        }
        if (algo->kind != spec->action_kind) {
            cli_error("census: %s needs %s actions; %s has %s actions", algo->name,
                      kind_name(algo->kind), env_id, kind_name(spec->action_kind));
            return 2;
        }
    } else {
        algo = cli_he_algo_for_kind(spec->action_kind);
    }
    if (!ckks_preset_find(preset)) {
        char names[256] = "";
        for (size_t k = 0; k < ckks_preset_count(); k++) {
            size_t n = strlen(names);
            snprintf(names + n, sizeof names - n, "%s%s", k ? ", " : "", ckks_preset_at(k)->name);
        }
        cli_error("census: unknown preset '%s' (presets: %s)", preset, names);
        return 2;
    }
    ckks_params *params = NULL;
    if (cli_load_preset("census", preset, insecure, &params))
        return 2;
    const int levels = ckks_params_max_level(params);
    const size_t ring_n = ckks_params_n(params), max_slots = ckks_params_max_slots(params);
    const int preset_insecure = ckks_params_spec(params)->insecure;
    ckks_params_free(params);

    cli_he_hp hp;
    int hrc = cli_he_algo_hparams(algo, "census", env_id, hps, n_hp, 0, &hp);
    if (hrc)
        return hrc;

    if (levels < algo->min_levels()) {
        cli_error("census: preset %s has %d levels; %s needs at least %d between refreshes "
                  "(the depth of its optimizer step): choose a preset with more levels",
                  preset, levels, algo->long_name, algo->min_levels());
        return 2;
    }
    cli_he_census *r = calloc(1, sizeof *r);
    if (!r) {
        cli_error("census: %s", cl_strerror(CL_ERR_NOMEM));
        return 1;
    }
    cl_status st = algo->census(env_id, &hp, levels, r);
    if (st != CL_OK) {
        if (st == CL_ERR_LEVEL)
            cli_error("census: preset %s has %d levels, too few for %s with these "
                      "hyperparameters (%s)", preset, levels, algo->long_name, cl_strerror(st));
        else
            cli_error("census: the %s census run failed: %s", algo->long_name, cl_strerror(st));
        free(r);
        return 1;
    }
    const int fits = r->slots <= max_slots;
    char hpbuf[2048];
    algo->hp_format(&hp, hpbuf, sizeof hpbuf);
    slots_counters sum = {0};
    for (int p = 0; p < r->n_phases; p++) {
        const slots_counters *c = &r->phase[p];
        sum.mul += c->mul;
        sum.mul_plain += c->mul_plain;
        sum.mul_const += c->mul_const;
        sum.add += c->add;
        sum.rotate += c->rotate;
        sum.refresh += c->refresh;
        sum.encrypt += c->encrypt;
        sum.decrypt += c->decrypt;
    }

    if (json) {
        printf("{\"env\": ");
        json_string(env_id);
        printf(", \"algo\": ");
        json_string(algo->name);
        printf(", \"preset\": ");
        json_string(preset);
        printf(", \"insecure\": %s, \"ring_degree\": %zu, \"max_slots\": %zu, \"levels\": %d, "
               "\"slots\": %zu, \"width\": %zu, \"batch_size\": %zu, \"fits_preset\": %s, "
               "\"rotation_keys\": %zu, \"rotation_steps\": [",
               preset_insecure ? "true" : "false", ring_n, max_slots, levels, r->slots, r->width,
               r->batch, fits ? "true" : "false", r->n_rot);
        for (size_t k = 0; k < r->n_rot; k++)
            printf("%s%d", k ? ", " : "", r->rot_steps[k]);
        printf("], \"train_step\": ");
        json_counters(&r->train, levels);
        printf(", \"action\": ");
        json_counters(&r->act, levels);
        printf(", \"phases\": [");
        for (int p = 0; p < r->n_phases; p++) {
            printf("%s{\"phase\": ", p ? ", " : "");
            json_string(r->phase_name[p]);
            printf(", \"counts\": ");
            json_counters(&r->phase[p], -1);
            putchar('}');
        }
        printf("], \"hp\": ");
        json_string(hpbuf);
        printf("}\n");
    } else {
        printf("%s on %s at preset %s: N = %zu, L = %d levels, up to %zu slots%s\n",
               algo->long_name, env_id, preset, ring_n, levels, max_slots,
               preset_insecure ? " (insecure test set)" : "");
        printf("layout: width D = %zu, batch B = %zu, slots S = %zu%s\n", r->width, r->batch,
               r->slots, fits ? "" : " -- more than the preset's slots: an encrypted run needs a "
                                     "larger ring");
        printf("rotation steps (Galois keys): %zu:", r->n_rot);
        for (size_t k = 0; k < r->n_rot; k++)
            printf(" %d", r->rot_steps[k]);
        printf("\n\n");
        text_header("per");
        text_row("training step", &r->train, levels);
        text_row("action selection", &r->act, levels);
        printf("\ntraining step by phase (refreshes at L = %d):\n", levels);
        text_header("phase");
        for (int p = 0; p < r->n_phases; p++)
            text_row(r->phase_name[p], &r->phase[p], -1);
        if (r->phases_add_up)
            text_row("sum of phases", &sum, -1);
        else
            printf("  (the critic's phases per training step, the actor's per actor update)\n");
        printf("\nhyperparameters: %s\n", hpbuf);
    }
    free(r);
    return 0;
}
