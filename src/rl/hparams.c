/* Hyperparameters under Stable-Baselines3's names, with Stable-Baselines3's
 * defaults and the RL Zoo's tuned sets (hyperparams/dqn.yml and td3.yml of
 * DLR-RM/rl-baselines3-zoo) for the five classic-control tasks. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cipherl/rl.h"

const char *rl_algo_name(rl_algo algo)
{
    switch (algo) {
    case RL_ALGO_DQN: return "dqn";
    case RL_ALGO_TD3: return "td3";
    }
    return "?";
}

cl_status rl_algo_parse(const char *name, rl_algo *out)
{
    if (!name || !out)
        return CL_ERR_INVALID;
    if (!strcmp(name, "dqn") || !strcmp(name, "DQN"))
        *out = RL_ALGO_DQN;
    else if (!strcmp(name, "td3") || !strcmp(name, "TD3"))
        *out = RL_ALGO_TD3;
    else
        return CL_ERR_INVALID;
    return CL_OK;
}

rl_algo rl_algo_default_for(const rl_env_spec *spec)
{
    return spec->action_kind == RL_ACTION_DISCRETE ? RL_ALGO_DQN : RL_ALGO_TD3;
}

static void set_arch(rl_hparams *hp, int a, int b)
{
    hp->n_net_arch = 2;
    hp->net_arch[0] = a;
    hp->net_arch[1] = b;
}

cl_status rl_hp_defaults(rl_algo algo, const char *env_id, rl_hparams *hp)
{
    if (!hp || !env_id)
        return CL_ERR_INVALID;
    const rl_env_spec *spec = rl_env_find(env_id);
    if (!spec)
        return CL_ERR_INVALID;
    if ((algo == RL_ALGO_DQN) != (spec->action_kind == RL_ACTION_DISCRETE))
        return CL_ERR_UNSUPPORTED;
    memset(hp, 0, sizeof *hp);
    hp->algo = algo;
    hp->n_timesteps = 1000000; /* the RL Zoo's default */
    hp->gamma = 0.99;
    hp->adam_eps = 1e-8;
    hp->buffer_size = 1000000;
    hp->learning_starts = 100;
    hp->gradient_steps = 1;
    /* fields of the other algorithm keep SB3's defaults too, for printing */
    hp->target_update_interval = 10000;
    hp->exploration_fraction = 0.1;
    hp->exploration_initial_eps = 1.0;
    hp->exploration_final_eps = 0.05;
    hp->max_grad_norm = 10.0;
    /* SB3's networks; the HE-friendly pieces only when asked for */
    hp->activation_fn = NN_ACT_RELU;
    hp->actor_activation_fn = NN_ACT_RELU;
    hp->critic_activation_fn = NN_ACT_RELU;
    hp->activation_bound = 1.0; /* HE-TD3's b */
    hp->actor_output = NN_ACT_TANH;
    hp->squash_bound = 2.0; /* HE-TD3's A */
    hp->policy_delay = 2;
    hp->target_policy_noise = 0.2;
    hp->target_noise_clip = 0.5;
    hp->noise_type = RL_NOISE_NONE;
    hp->noise_std = 0.1;
    if (algo == RL_ALGO_DQN) {
        /* stable_baselines3.DQN.__init__ */
        hp->learning_rate = 1e-4;
        hp->batch_size = 32;
        hp->tau = 1.0;
        hp->train_freq = 4;
        set_arch(hp, 64, 64);
        if (!strcmp(env_id, "CartPole-v1")) {
            hp->n_timesteps = 50000;
            hp->learning_rate = 2.3e-3;
            hp->batch_size = 64;
            hp->buffer_size = 100000;
            hp->learning_starts = 1000;
            hp->gamma = 0.99;
            hp->target_update_interval = 10;
            hp->train_freq = 256;
            hp->gradient_steps = 128;
            hp->exploration_fraction = 0.16;
            hp->exploration_final_eps = 0.04;
            set_arch(hp, 256, 256);
        } else if (!strcmp(env_id, "MountainCar-v0")) {
            hp->n_timesteps = 120000;
            hp->learning_rate = 4e-3;
            hp->batch_size = 128;
            hp->buffer_size = 10000;
            hp->learning_starts = 1000;
            hp->gamma = 0.98;
            hp->target_update_interval = 600;
            hp->train_freq = 16;
            hp->gradient_steps = 8;
            hp->exploration_fraction = 0.2;
            hp->exploration_final_eps = 0.07;
            set_arch(hp, 256, 256);
        } else if (!strcmp(env_id, "Acrobot-v1")) {
            hp->n_timesteps = 100000;
            hp->learning_rate = 6.3e-4;
            hp->batch_size = 128;
            hp->buffer_size = 50000;
            hp->learning_starts = 0;
            hp->gamma = 0.99;
            hp->target_update_interval = 250;
            hp->train_freq = 4;
            hp->gradient_steps = -1;
            hp->exploration_fraction = 0.12;
            hp->exploration_final_eps = 0.1;
            set_arch(hp, 256, 256);
        }
    } else {
        /* stable_baselines3.TD3.__init__ and TD3Policy */
        hp->learning_rate = 1e-3;
        hp->batch_size = 256;
        hp->tau = 0.005;
        hp->train_freq = 1;
        set_arch(hp, 400, 300);
        /* the RL Zoo's td3.yml default entry */
        hp->noise_type = RL_NOISE_NORMAL;
        hp->noise_std = 0.1;
        if (!strcmp(env_id, "MountainCarContinuous-v0")) {
            hp->n_timesteps = 300000;
            hp->noise_type = RL_NOISE_OU;
            hp->noise_std = 0.5;
            hp->gradient_steps = 1;
            hp->train_freq = 1;
            hp->learning_rate = 1e-3;
            hp->batch_size = 256;
            set_arch(hp, 400, 300);
        } else if (!strcmp(env_id, "Pendulum-v1")) {
            hp->n_timesteps = 20000;
            hp->gamma = 0.98;
            hp->buffer_size = 200000;
            hp->learning_starts = 10000;
            hp->noise_type = RL_NOISE_NORMAL;
            hp->noise_std = 0.1;
            hp->gradient_steps = 1;
            hp->train_freq = 1;
            hp->learning_rate = 1e-3;
            set_arch(hp, 400, 300);
        }
    }
    return CL_OK;
}

/* ------------------------------------------------------------- parsing */

enum kind { K_INT, K_REAL, K_ARCH, K_NOISE, K_HIDDEN, K_OUTPUT };
enum which { W_BOTH, W_DQN, W_TD3 };

typedef struct field {
    const char *name;
    enum kind kind;
    enum which which;
    size_t off;
    double lo, hi;      /* inclusive range */
    int lo_open;        /* lo excluded */
    const char *help;
} field;

#define OFF(f) offsetof(rl_hparams, f)
static const field fields[] = {
    {"n_timesteps", K_INT, W_BOTH, OFF(n_timesteps), 1, 1e12, 0, "training steps"},
    {"learning_rate", K_REAL, W_BOTH, OFF(learning_rate), 0, 10, 1, "Adam step size"},
    {"learning_rate_decay", K_REAL, W_BOTH, OFF(learning_rate_decay), 0, 1, 0,
     "linear decay of learning_rate over training (1: the RL Zoo's lin_ schedule)"},
    {"buffer_size", K_INT, W_BOTH, OFF(buffer_size), 1, 1e8, 0, "replay capacity"},
    {"learning_starts", K_INT, W_BOTH, OFF(learning_starts), 0, 1e12, 0, "random steps before learning"},
    {"batch_size", K_INT, W_BOTH, OFF(batch_size), 1, 65536, 0, "mini-batch size"},
    {"tau", K_REAL, W_BOTH, OFF(tau), 0, 1, 1, "target update coefficient"},
    {"gamma", K_REAL, W_BOTH, OFF(gamma), 0, 1, 0, "discount"},
    {"train_freq", K_INT, W_BOTH, OFF(train_freq), 1, 1e9, 0, "steps between training phases"},
    {"gradient_steps", K_INT, W_BOTH, OFF(gradient_steps), -1, 1e9, 0, "gradient steps per phase (-1: steps collected)"},
    {"net_arch", K_ARCH, W_BOTH, OFF(net_arch), 1, 4096, 0, "hidden widths, e.g. [256,256]"},
    {"adam_eps", K_REAL, W_BOTH, OFF(adam_eps), 0, 1, 0, "Adam epsilon"},
    {"target_update_interval", K_INT, W_DQN, OFF(target_update_interval), 1, 1e12, 0, "steps between target updates"},
    {"exploration_fraction", K_REAL, W_DQN, OFF(exploration_fraction), 0, 1, 0, "fraction of training over which epsilon decays"},
    {"exploration_initial_eps", K_REAL, W_DQN, OFF(exploration_initial_eps), 0, 1, 0, "initial epsilon"},
    {"exploration_final_eps", K_REAL, W_DQN, OFF(exploration_final_eps), 0, 1, 0, "final epsilon"},
    {"max_grad_norm", K_REAL, W_DQN, OFF(max_grad_norm), 0, 1e12, 1, "gradient norm clip"},
    {"policy_delay", K_INT, W_TD3, OFF(policy_delay), 1, 1e6, 0, "critic updates per actor update"},
    {"target_policy_noise", K_REAL, W_TD3, OFF(target_policy_noise), 0, 100, 0, "std of target smoothing noise"},
    {"target_noise_clip", K_REAL, W_TD3, OFF(target_noise_clip), 0, 100, 0, "clip of target smoothing noise"},
    {"noise_type", K_NOISE, W_TD3, OFF(noise_type), 0, 0, 0, "normal | ornstein-uhlenbeck | none"},
    {"noise_std", K_REAL, W_TD3, OFF(noise_std), 0, 100, 0, "exploration noise std"},
    {"activation_fn", K_HIDDEN, W_DQN, OFF(activation_fn), 0, 0, 0, "relu | poly2"},
    {"actor_activation_fn", K_HIDDEN, W_TD3, OFF(actor_activation_fn), 0, 0, 0, "relu | poly2"},
    {"critic_activation_fn", K_HIDDEN, W_TD3, OFF(critic_activation_fn), 0, 0, 0, "relu | poly2"},
    {"activation_bound", K_REAL, W_BOTH, OFF(activation_bound), 0, 1e6, 1, "b of poly2"},
    {"actor_output", K_OUTPUT, W_TD3, OFF(actor_output), 0, 0, 0, "tanh | squash3 | squash5"},
    {"squash_bound", K_REAL, W_TD3, OFF(squash_bound), 0, 1e6, 1, "A of squash3/5"},
};
#define N_FIELDS (sizeof fields / sizeof fields[0])

static cl_status fail(cl_status st, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static cl_status fail(cl_status st, char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}

static int applies(const field *f, rl_algo algo)
{
    return f->which == W_BOTH || (f->which == W_DQN && algo == RL_ALGO_DQN) ||
           (f->which == W_TD3 && algo == RL_ALGO_TD3);
}

static int parse_real(const char *s, double *out)
{
    if (!*s || isspace((unsigned char)*s))
        return 0;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (errno || *end || !isfinite(d))
        return 0;
    *out = d;
    return 1;
}

/* integers also as "1e5" or "100000.0" (YAML's !!float), when integral */
static int parse_int(const char *s, int64_t *out)
{
    double d;
    if (!parse_real(s, &d) || d != floor(d) || fabs(d) > 9e15)
        return 0;
    *out = (int64_t)d;
    return 1;
}

static int parse_arch(const char *s, int *arch, int *n)
{
    while (isspace((unsigned char)*s))
        s++;
    int bracket = *s == '[';
    if (bracket)
        s++;
    int count = 0;
    for (;;) {
        while (isspace((unsigned char)*s))
            s++;
        if (bracket && *s == ']' && count == 0) {
            s++;
            break;
        }
        if (!isdigit((unsigned char)*s))
            return 0;
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || v < 1 || v > 4096 || count == RL_MAX_NET_ARCH)
            return 0;
        arch[count++] = (int)v;
        s = end;
        while (isspace((unsigned char)*s))
            s++;
        if (*s == ',') {
            s++;
            continue;
        }
        if (bracket) {
            if (*s != ']')
                return 0;
            s++;
        }
        break;
    }
    while (isspace((unsigned char)*s))
        s++;
    if (*s)
        return 0;
    *n = count;
    return 1;
}

cl_status rl_hp_set(rl_hparams *hp, const char *name, const char *value, char *err,
                    size_t errlen)
{
    if (!hp || !name || !value)
        return fail(CL_ERR_INVALID, err, errlen, "missing hyperparameter name or value");
    const field *f = NULL;
    for (size_t i = 0; i < N_FIELDS; i++)
        if (!strcmp(fields[i].name, name))
            f = &fields[i];
    if (!f) {
        char known[1024];
        size_t k = 0;
        known[0] = 0;
        for (size_t i = 0; i < N_FIELDS && k < sizeof known; i++)
            if (applies(&fields[i], hp->algo))
                k += (size_t)snprintf(known + k, sizeof known - k, "%s%s", k ? ", " : "",
                                      fields[i].name);
        return fail(CL_ERR_INVALID, err, errlen, "unknown hyperparameter '%s' (known for %s: %s)",
                    name, rl_algo_name(hp->algo), known);
    }
    if (!applies(f, hp->algo))
        return fail(CL_ERR_INVALID, err, errlen, "hyperparameter '%s' does not apply to %s", name,
                    rl_algo_name(hp->algo));
    char *base = (char *)hp + f->off;
    switch (f->kind) {
    case K_INT: {
        int64_t v;
        if (!parse_int(value, &v))
            return fail(CL_ERR_PARSE, err, errlen, "%s: '%s' is not an integer", name, value);
        if ((double)v < f->lo || (double)v > f->hi)
            return fail(CL_ERR_PARSE, err, errlen, "%s: %s is out of range [%.0f, %.0f]", name,
                        value, f->lo, f->hi);
        if (!strcmp(name, "batch_size"))
            hp->batch_size = (int)v;
        else if (!strcmp(name, "policy_delay"))
            hp->policy_delay = (int)v;
        else
            *(int64_t *)(void *)base = v;
        break;
    }
    case K_REAL: {
        double v;
        if (!parse_real(value, &v))
            return fail(CL_ERR_PARSE, err, errlen, "%s: '%s' is not a number", name, value);
        if (v < f->lo || v > f->hi || (f->lo_open && v == f->lo))
            return fail(CL_ERR_PARSE, err, errlen, "%s: %s is out of range %s%g, %g]", name,
                        value, f->lo_open ? "(" : "[", f->lo, f->hi);
        *(double *)(void *)base = v;
        break;
    }
    case K_ARCH: {
        int arch[RL_MAX_NET_ARCH], n;
        if (!parse_arch(value, arch, &n))
            return fail(CL_ERR_PARSE, err, errlen,
                        "net_arch: '%s' is not a list of 0 to %d widths in [1, 4096], e.g. [256,256]",
                        value, RL_MAX_NET_ARCH);
        hp->n_net_arch = n;
        memcpy(hp->net_arch, arch, sizeof(int) * (size_t)n);
        break;
    }
    case K_HIDDEN:
        if (!strcmp(value, "relu"))
            *(nn_act *)(void *)base = NN_ACT_RELU;
        else if (!strcmp(value, "poly2"))
            *(nn_act *)(void *)base = NN_ACT_POLY2;
        else
            return fail(CL_ERR_PARSE, err, errlen, "%s: '%s' is not one of relu, poly2", name,
                        value);
        break;
    case K_OUTPUT:
        if (!strcmp(value, "tanh"))
            *(nn_act *)(void *)base = NN_ACT_TANH;
        else if (!strcmp(value, "squash3"))
            *(nn_act *)(void *)base = NN_ACT_SQUASH3;
        else if (!strcmp(value, "squash5"))
            *(nn_act *)(void *)base = NN_ACT_SQUASH5;
        else
            return fail(CL_ERR_PARSE, err, errlen, "%s: '%s' is not one of tanh, squash3, squash5",
                        name, value);
        break;
    case K_NOISE:
        if (!strcmp(value, "normal"))
            hp->noise_type = RL_NOISE_NORMAL;
        else if (!strcmp(value, "ornstein-uhlenbeck"))
            hp->noise_type = RL_NOISE_OU;
        else if (!strcmp(value, "none"))
            hp->noise_type = RL_NOISE_NONE;
        else
            return fail(CL_ERR_PARSE, err, errlen,
                        "noise_type: '%s' is not one of normal, ornstein-uhlenbeck, none", value);
        break;
    }
    return CL_OK;
}

cl_status rl_hp_assign(rl_hparams *hp, const char *assignment, char *err, size_t errlen)
{
    if (!assignment)
        return fail(CL_ERR_INVALID, err, errlen, "missing hyperparameter");
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        return fail(CL_ERR_PARSE, err, errlen, "'%s' is not NAME=VALUE", assignment);
    char name[64];
    size_t n = (size_t)(eq - assignment);
    if (n >= sizeof name)
        return fail(CL_ERR_INVALID, err, errlen, "unknown hyperparameter '%.*s'", (int)n, assignment);
    memcpy(name, assignment, n);
    name[n] = 0;
    return rl_hp_set(hp, name, eq + 1, err, errlen);
}

cl_status rl_hp_check(const rl_hparams *hp, char *err, size_t errlen)
{
    if (!hp || (hp->algo != RL_ALGO_DQN && hp->algo != RL_ALGO_TD3))
        return fail(CL_ERR_INVALID, err, errlen, "no algorithm");
    if (hp->n_net_arch < 0 || hp->n_net_arch > RL_MAX_NET_ARCH)
        return fail(CL_ERR_INVALID, err, errlen, "net_arch has too many layers");
    if (!(hp->learning_rate > 0) || hp->buffer_size < 1 || hp->batch_size < 1 ||
        !(hp->tau > 0 && hp->tau <= 1) || !(hp->gamma >= 0 && hp->gamma <= 1) ||
        hp->train_freq < 1 || hp->gradient_steps < -1 || hp->learning_starts < 0 ||
        hp->n_timesteps < 1 || !(hp->adam_eps >= 0))
        return fail(CL_ERR_INVALID, err, errlen, "a hyperparameter is out of range");
    if (hp->algo == RL_ALGO_DQN &&
        (hp->target_update_interval < 1 || !(hp->max_grad_norm > 0) ||
         !(hp->exploration_fraction >= 0 && hp->exploration_fraction <= 1) ||
         !(hp->exploration_initial_eps >= 0 && hp->exploration_initial_eps <= 1) ||
         !(hp->exploration_final_eps >= 0 && hp->exploration_final_eps <= 1)))
        return fail(CL_ERR_INVALID, err, errlen, "a DQN hyperparameter is out of range");
    if (hp->algo == RL_ALGO_TD3 &&
        (hp->policy_delay < 1 || !(hp->target_policy_noise >= 0) ||
         !(hp->target_noise_clip >= 0) || !(hp->noise_std >= 0) ||
         (unsigned)hp->noise_type > RL_NOISE_OU))
        return fail(CL_ERR_INVALID, err, errlen, "a TD3 hyperparameter is out of range");
    const nn_act hidden[3] = {hp->activation_fn, hp->actor_activation_fn, hp->critic_activation_fn};
    for (int i = 0; i < 3; i++)
        if (hidden[i] != NN_ACT_RELU && hidden[i] != NN_ACT_POLY2)
            return fail(CL_ERR_INVALID, err, errlen, "a hidden activation is neither relu nor poly2");
    if (hp->actor_output != NN_ACT_TANH && hp->actor_output != NN_ACT_SQUASH3 &&
        hp->actor_output != NN_ACT_SQUASH5)
        return fail(CL_ERR_INVALID, err, errlen, "actor_output is none of tanh, squash3, squash5");
    if (!(hp->activation_bound > 0 && isfinite(hp->activation_bound)) ||
        !(hp->squash_bound > 0 && isfinite(hp->squash_bound)))
        return fail(CL_ERR_INVALID, err, errlen, "activation_bound and squash_bound must be > 0");
    return CL_OK;
}

size_t rl_hp_format(const rl_hparams *hp, char *buf, size_t len)
{
    size_t k = 0;
    char tmp[128];
    for (size_t i = 0; i < N_FIELDS; i++) {
        const field *f = &fields[i];
        if (!applies(f, hp->algo))
            continue;
        const char *base = (const char *)hp + f->off;
        /* a constant learning rate (the RL Zoo's sets) is left unsaid, so
         * the text of every earlier model and checkpoint stays as it was */
        if (!strcmp(f->name, "learning_rate_decay") && hp->learning_rate_decay == 0.0)
            continue;
        switch (f->kind) {
        case K_INT: {
            long long v = !strcmp(f->name, "batch_size")     ? hp->batch_size
                          : !strcmp(f->name, "policy_delay") ? hp->policy_delay
                                                             : *(const int64_t *)(const void *)base;
            snprintf(tmp, sizeof tmp, "%lld", v);
            break;
        }
        case K_REAL:
        {
            /* the shortest of %.15g / %.17g that reads back exactly */
            double d = *(const double *)(const void *)base;
            snprintf(tmp, sizeof tmp, "%.15g", d);
            if (strtod(tmp, NULL) != d)
                snprintf(tmp, sizeof tmp, "%.17g", d);
        }
            break;
        case K_ARCH: {
            size_t t = (size_t)snprintf(tmp, sizeof tmp, "[");
            for (int l = 0; l < hp->n_net_arch; l++)
                t += (size_t)snprintf(tmp + t, sizeof tmp - t, "%s%d", l ? "," : "", hp->net_arch[l]);
            snprintf(tmp + t, sizeof tmp - t, "]");
            break;
        }
        case K_HIDDEN:
            snprintf(tmp, sizeof tmp, "%s",
                     *(const nn_act *)(const void *)base == NN_ACT_POLY2 ? "poly2" : "relu");
            break;
        case K_OUTPUT: {
            nn_act a = *(const nn_act *)(const void *)base;
            snprintf(tmp, sizeof tmp, "%s",
                     a == NN_ACT_SQUASH3 ? "squash3" : a == NN_ACT_SQUASH5 ? "squash5" : "tanh");
            break;
        }
        case K_NOISE:
            snprintf(tmp, sizeof tmp, "%s",
                     hp->noise_type == RL_NOISE_NORMAL ? "normal"
                     : hp->noise_type == RL_NOISE_OU   ? "ornstein-uhlenbeck"
                                                       : "none");
            break;
        }
        int w = snprintf(k < len ? buf + k : NULL, k < len ? len - k : 0, "%s%s=%s",
                         k ? " " : "", f->name, tmp);
        k += (size_t)w;
    }
    if (len && k >= len)
        buf[len - 1] = 0;
    return k;
}
