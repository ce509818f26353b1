/* cipherl train --mode clear | interactive: the HE-friendly algorithm on the
 * slot machine, on the clear backend (the twin) or on CKKS ciphertexts with
 * the owner refreshing (interactive). The owner's objects (secret key,
 * slots_owner) and the platform's (evaluation keys, slots_ctx) are made
 * separately here; the platform reaches the owner only through the refresh
 * callback. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cipherl/ckks.h"
#include "cipherl/nn.h"
#include "cipherl/rl.h"
#include "cipherl/slots.h"
#include "cli/cli.h"
#include "cli/train.h"
#include "cli/he_algo.h"
#include "nn/nn_he.h"

void cli_on_episode(void *user, int64_t step, double ret, int len)
{
    cli_episodes *r = user;
    r->episodes++;
    r->recent[r->recent_pos] = ret;
    r->recent_pos = (r->recent_pos + 1) % CLI_RECENT;
    if (r->n_recent < CLI_RECENT)
        r->n_recent++;
    if (r->log)
        fprintf(r->log, "%lld,%lld,%.10g,%d\n", (long long)step, (long long)r->episodes, ret, len);
}

void cli_he_backend_free(cli_he_backend *b)
{
    slots_owner_free(b->owner);
    slots_ctx_free(b->ctx);
    ckks_eval_keys_free(b->keys);
    ckks_public_key_free(b->pk);
    ckks_secret_key_free(b->sk);
    ckks_params_free(b->params);
    memset(b, 0, sizeof *b);
}

int cli_he_backend_ckks(const cli_he_algo *algo, const char *env_id, const cli_he_hp *hp, ckks_params *params,
                        cli_he_backend *out)
{
    memset(out, 0, sizeof *out);
    out->params = params;
    size_t S;
    cl_status st = algo->layout(env_id, hp, &S);
    /* the Galois keys the algorithm needs, from its census on the clear backend */
    cli_he_census *census = calloc(1, sizeof *census);
    if (!census)
        st = CL_ERR_NOMEM;
    if (st == CL_OK)
        st = algo->census(env_id, hp, ckks_params_max_level(params), census);
    /* the owner */
    if (st == CL_OK)
        st = ckks_secret_key_create(params, &out->sk);
    if (st == CL_OK)
        st = ckks_public_key_create(out->sk, &out->pk);
    if (st == CL_OK)
        st = ckks_eval_keys_create(out->sk, CKKS_KEYS_RELIN, census->rot_steps, census->n_rot, &out->keys);
    free(census);
    /* the platform: evaluation keys only */
    if (st == CL_OK)
        st = slots_ckks_create(params, out->keys, S, &out->ctx);
    /* the owner's side of that context: the secret key */
    if (st == CL_OK)
        st = slots_ckks_owner_create(out->ctx, out->sk, &out->owner);
    if (st == CL_OK)
        slots_ckks_set_refresher(out->ctx, slots_ckks_owner_refresh, out->owner);
    if (st != CL_OK)
        cli_he_backend_free(out);
    return (int)st;
}

/* One trace row per environment step from..to-1: "step,action[,...]". */
static void write_trace(FILE *trace, const cli_he_algo *algo, const void *ag, int64_t from, int64_t to)
{
    const int ad = algo->action_dim(ag);
    double a[RL_MAX_ACT];
    for (int64_t s = from; s < to; s++) {
        algo->action(ag, s, a);
        fprintf(trace, "%lld", (long long)s + 1);
        for (int k = 0; k < ad; k++) {
            if (algo->kind == RL_ACTION_DISCRETE)
                fprintf(trace, ",%d", (int)a[k]);
            else
                fprintf(trace, ",%.17g", a[k]);
        }
        fputc('\n', trace);
    }
}

int cli_train_he(const cli_train_opts *o)
{
    const int interactive = !strcmp(o->mode, "interactive");
    const rl_env_spec *spec = rl_env_find(o->env_id);
    if (!spec) {
        cli_error("train: unknown environment '%s' (see 'cipherl env list')", o->env_id);
        return 2;
    }
    const cli_he_algo *algo = cli_he_algo_for_kind(spec->action_kind);
    if (o->algo && !(algo = cli_he_algo_find(o->algo))) {
        cli_error("train: unknown algorithm '%s' (dqn or td3)", o->algo);
        return 2;
    }
    if (algo->kind != spec->action_kind) {
        cli_error("train: %s needs %s actions; %s has %s actions", algo->name,
                  algo->kind == RL_ACTION_DISCRETE ? "discrete" : "continuous", o->env_id,
                  spec->action_kind == RL_ACTION_DISCRETE ? "discrete" : "continuous");
        return 2;
    }
    if (interactive && o->noise > 0) {
        cli_error("train: --noise belongs to mode clear (ciphertexts bring their own)");
        return 2;
    }
    cli_he_hp hp;
    int hrc = cli_he_algo_hparams(algo, "train", o->env_id, o->hps, o->n_hp, o->steps, &hp);
    if (hrc)
        return hrc;
    if (interactive && algo->hp_optimizer(&hp) == RL_HE_OPT_ADAM) {
        cli_error("train: optimizer=adam (exact 1/sqrt) cannot run on ciphertexts; use he_adam or sgd");
        return 2;
    }
    const int64_t steps = *algo->hp_timesteps(&hp);
    size_t S;
    cl_status st;
    if ((st = algo->layout(o->env_id, &hp, &S)) != CL_OK) {
        cli_error("train: bad network shape: %s", cl_strerror(st));
        return 2;
    }
    if (o->out_path && !algo->export_mlp) {
        cli_error("train: %s cannot export its policy as a model yet (drop --out)", algo->long_name);
        return 2;
    }

    /* the level budget (and, encrypted, the parameters) */
    cli_he_backend hk = {0};
    const char *preset = o->preset ? o->preset : (interactive ? "n15" : NULL);
    int levels = 6;
    if (preset) {
        if (cli_load_preset("train", preset, o->insecure, &hk.params))
            return 2;
        levels = ckks_params_max_level(hk.params);
        if (interactive && S > ckks_params_max_slots(hk.params)) {
            cli_error("train: the network needs %zu slots; preset %s has %zu", S, preset,
                      ckks_params_max_slots(hk.params));
            cli_he_backend_free(&hk);
            return 2;
        }
    }
    if (o->levels) {
        if (interactive) {
            cli_error("train: --levels belongs to mode clear (interactive uses the preset's)");
            cli_he_backend_free(&hk);
            return 2;
        }
        levels = o->levels;
    }
    if (levels < algo->min_levels()) {
        cli_error("train: %d levels are fewer than the %d the HE-compatible Adam needs%s", levels,
                  algo->min_levels(), preset ? " (choose a preset with more levels, e.g. n14-l6 or n15)" : "");
        cli_he_backend_free(&hk);
        return 2;
    }

    FILE *log = NULL, *trace = NULL;
    if (o->log_path && !(log = fopen(o->log_path, "w"))) {
        cli_error("train: cannot write '%s': %s", o->log_path, strerror(errno));
        cli_he_backend_free(&hk);
        return 1;
    }
    if (log)
        fprintf(log, "step,episode,return,length\n");
    if (o->trace_path && !(trace = fopen(o->trace_path, "w"))) {
        cli_error("train: cannot write '%s': %s", o->trace_path, strerror(errno));
        if (log)
            fclose(log);
        cli_he_backend_free(&hk);
        return 1;
    }
    if (trace) {
        fprintf(trace, "step,action");
        for (int k = 1; k < (spec->action_kind == RL_ACTION_DISCRETE ? 1 : spec->action_dim); k++)
            fprintf(trace, ",action_%d", k);
        fputc('\n', trace);
    }

    slots_ctx *ctx = NULL;
    slots_owner *owner = NULL;
    void *ag = NULL;
    ckks_params *params = hk.params;
    hk.params = NULL;
    int rc = 0;
    double t_setup = cli_now_s();
    if (!interactive) {
        slots_clear_config cfg = {.slots = S, .levels = levels, .noise = o->noise, .seed = o->seed ^ 0x6e6f697365ULL};
        st = slots_clear_create(&cfg, &ctx, &owner);
    } else {
        ckks_set_threads(o->threads);
        st = (cl_status)cli_he_backend_ckks(algo, o->env_id, &hp, params, &hk);
        params = NULL;
        ctx = hk.ctx;
        owner = hk.owner;
    }
    if (st == CL_OK)
        st = algo->create(o->env_id, &hp, ctx, owner, o->seed, &ag);
    if (st != CL_OK) {
        cli_error("train: cannot set up mode %s: %s", o->mode, cl_strerror(st));
        rc = 1;
    }
    t_setup = cli_now_s() - t_setup;

    cli_episodes rs = {.log = log};
    const double t0 = cli_now_s();
    double last_draw = 0.0;
    int64_t done = 0;
    const int64_t chunk = interactive ? 1 : 16;
    while (rc == 0 && done < steps) {
        const int64_t n = steps - done < chunk ? steps - done : chunk;
        st = algo->learn(ag, n, cli_on_episode, &rs);
        if (st != CL_OK) {
            if (o->progress)
                fputc('\n', stderr);
            cli_error("train: step %lld failed: %s", (long long)done + 1, cl_strerror(st));
            rc = 1;
            break;
        }
        if (trace)
            write_trace(trace, algo, ag, done, done + n);
        done += n;
        if (o->progress) {
            const double t = cli_now_s();
            if (t - last_draw >= 0.25 || done == steps) {
                last_draw = t;
                cli_train_progress(done, steps, t - t0, rs.episodes, rs.recent, rs.n_recent, 0);
            }
        }
    }
    const double elapsed = cli_now_s() - t0;
    if (o->progress && rc == 0)
        cli_train_progress(done, steps, elapsed, rs.episodes, rs.recent, rs.n_recent, 1);
    if (log && fclose(log) != 0 && rc == 0) {
        cli_error("train: writing '%s' failed", o->log_path);
        rc = 1;
    }
    if (trace && fclose(trace) != 0 && rc == 0) {
        cli_error("train: writing '%s' failed", o->trace_path);
        rc = 1;
    }
    if (rc == 0 && o->out_path) {
        nn_mlp *net = NULL;
        rl_policy *pol = NULL;
        st = algo->export_mlp(ag, &net);
        if (st == CL_OK) {
            st = rl_policy_from_mlp(algo->plain, o->env_id, net, &pol);
            if (st != CL_OK)
                nn_mlp_free(net);
        }
        if (st == CL_OK)
            st = rl_policy_save(pol, o->out_path);
        rl_policy_free(pol);
        if (st != CL_OK) {
            cli_error("train: cannot save the model to '%s': %s", o->out_path, cl_strerror(st));
            rc = 1;
        }
    }
    if (rc == 0) {
        cli_he_stats s;
        algo->stats(ag, &s);
        double mean = 0;
        for (int i = 0; i < rs.n_recent; i++)
            mean += rs.recent[i];
        char mtxt[64] = "n/a (no episode finished)";
        if (rs.n_recent)
            snprintf(mtxt, sizeof mtxt, "%.2f", mean / rs.n_recent);
        printf("trained %s on %s (mode %s, %s%s, %d levels, seed %llu): %lld steps, %lld episodes, "
               "%lld training steps in %.2f s (%.1f env steps/s); mean return of the last %d episodes %s\n",
               algo->long_name, o->env_id, o->mode, preset ? "preset " : "no preset", preset ? preset : "", levels,
               (unsigned long long)o->seed, (long long)s.env_steps, (long long)s.episodes,
               (long long)s.train_steps, elapsed, elapsed > 0 ? (double)s.env_steps / elapsed : 0.0, rs.n_recent,
               mtxt);
        if (s.train_steps > 0) {
            const double ts = (double)s.train_steps;
            printf("per training step: %.0f rotations, %.0f ciphertext products, %.0f plaintext and %.0f constant "
                   "products, %.1f refreshes\n",
                   (double)s.train.rotate / ts, (double)s.train.mul / ts, (double)s.train.mul_plain / ts,
                   (double)s.train.mul_const / ts, (double)s.train.refresh / ts);
        }
        if (interactive)
            printf("set-up (census, keys, encrypted initial weights) %.2f s\n", t_setup);
        char hpbuf[2048];
        algo->hp_format(&hp, hpbuf, sizeof hpbuf);
        printf("hyperparameters: %s\n", hpbuf);
    }
    if (ag)
        algo->destroy(ag);
    if (!interactive) {
        slots_owner_free(owner);
        slots_ctx_free(ctx);
    }
    cli_he_backend_free(&hk);
    ckks_params_free(params);
    return rc;
}
