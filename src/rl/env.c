/* The five classic-control environments, following Gymnasium 1.x
 * (the files of gymnasium/envs/classic_control) as closely as doubles allow: same
 * constants, same integrators, same order of floating-point operations, the
 * same float32 roundings where Gymnasium makes them (docs/environments.md),
 * the same TimeLimit truncation. Observations are rounded to float32 (as
 * Gymnasium returns them) and widened back to double; internal state is kept
 * in double, as in Gymnasium, except where Gymnasium itself stores float32. */

/* Bit-for-bit agreement with Gymnasium needs a*b+c evaluated as two rounded
 * operations: forbid fused multiply-add contraction (clang's default is "on";
 * gcc in ISO C mode already keeps it off). */
#pragma STDC FP_CONTRACT OFF

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cipherl/rl.h"
#include "rl/env_internal.h"

#define RL_PI 3.14159265358979323846

/* float32 rounding, widened back to double */
#define F32(x) ((double)(float)(x))

enum env_kind { ENV_CARTPOLE, ENV_ACROBOT, ENV_MOUNTAINCAR, ENV_MOUNTAINCAR_CONT, ENV_PENDULUM };

static const rl_env_spec specs[] = {
    {
        .id = "CartPole-v1",
        .obs_dim = 4, .state_dim = 4,
        .action_kind = RL_ACTION_DISCRETE, .n_actions = 2, .action_dim = 1,
        .action_low = 0.0, .action_high = 1.0,
        .max_episode_steps = 500, .reward_threshold = 475.0,
        .obs_low = {-F32(4.8), -INFINITY, -F32(12.0 * 2.0 * RL_PI / 360.0 * 2.0), -INFINITY},
        .obs_high = {F32(4.8), INFINITY, F32(12.0 * 2.0 * RL_PI / 360.0 * 2.0), INFINITY},
    },
    {
        .id = "Acrobot-v1",
        .obs_dim = 6, .state_dim = 4,
        .action_kind = RL_ACTION_DISCRETE, .n_actions = 3, .action_dim = 1,
        .action_low = 0.0, .action_high = 2.0,
        .max_episode_steps = 500, .reward_threshold = -100.0,
        .obs_low = {-1.0, -1.0, -1.0, -1.0, -F32(4.0 * RL_PI), -F32(9.0 * RL_PI)},
        .obs_high = {1.0, 1.0, 1.0, 1.0, F32(4.0 * RL_PI), F32(9.0 * RL_PI)},
    },
    {
        .id = "MountainCar-v0",
        .obs_dim = 2, .state_dim = 2,
        .action_kind = RL_ACTION_DISCRETE, .n_actions = 3, .action_dim = 1,
        .action_low = 0.0, .action_high = 2.0,
        .max_episode_steps = 200, .reward_threshold = -110.0,
        .obs_low = {F32(-1.2), F32(-0.07)},
        .obs_high = {F32(0.6), F32(0.07)},
    },
    {
        .id = "MountainCarContinuous-v0",
        .obs_dim = 2, .state_dim = 2,
        .action_kind = RL_ACTION_CONTINUOUS, .n_actions = 0, .action_dim = 1,
        .action_low = -1.0, .action_high = 1.0,
        .max_episode_steps = 999, .reward_threshold = 90.0,
        .obs_low = {F32(-1.2), F32(-0.07)},
        .obs_high = {F32(0.6), F32(0.07)},
    },
    {
        .id = "Pendulum-v1",
        .obs_dim = 3, .state_dim = 2,
        .action_kind = RL_ACTION_CONTINUOUS, .n_actions = 0, .action_dim = 1,
        .action_low = -2.0, .action_high = 2.0,
        .max_episode_steps = 200, .reward_threshold = NAN,
        .obs_low = {-1.0, -1.0, -8.0},
        .obs_high = {1.0, 1.0, 8.0},
    },
};

#define N_SPECS (sizeof specs / sizeof specs[0])

struct rl_env {
    const rl_env_spec *spec;
    enum env_kind kind;
    double s[RL_MAX_STATE]; /* internal state, fixtures' layout */
    bool has_state;         /* reset or set_state was called */
    bool done_before;       /* CartPole: a step already returned terminated */
    int elapsed;            /* TimeLimit's step counter */
};

size_t rl_env_count(void)
{
    return N_SPECS;
}

const rl_env_spec *rl_env_spec_at(size_t i)
{
    return i < N_SPECS ? &specs[i] : NULL;
}

const rl_env_spec *rl_env_find(const char *id)
{
    if (!id)
        return NULL;
    for (size_t i = 0; i < N_SPECS; i++)
        if (!strcmp(specs[i].id, id))
            return &specs[i];
    return NULL;
}

cl_status rl_env_create(const char *id, rl_env **out)
{
    if (!out)
        return CL_ERR_INVALID;
    *out = NULL;
    const rl_env_spec *spec = rl_env_find(id);
    if (!spec)
        return CL_ERR_INVALID;
    rl_env *env = calloc(1, sizeof *env);
    if (!env)
        return CL_ERR_NOMEM;
    env->spec = spec;
    env->kind = (enum env_kind)(spec - specs);
    *out = env;
    return CL_OK;
}

void rl_env_free(rl_env *env)
{
    free(env);
}

const rl_env_spec *rl_env_get_spec(const rl_env *env)
{
    return env ? env->spec : NULL;
}

void rl_env_unscale_action(const rl_env_spec *spec, const double *scaled, double *action)
{
    const double lo = spec->action_low, hi = spec->action_high;
    for (int j = 0; j < spec->action_dim; j++) {
        const double a = scaled[j] < -1.0 ? -1.0 : scaled[j] > 1.0 ? 1.0 : scaled[j];
        action[j] = lo + 0.5 * (a + 1.0) * (hi - lo);
    }
}

int rl_env_elapsed_steps(const rl_env *env)
{
    return env ? env->elapsed : 0;
}

void rl_env_raw_get(const rl_env *env, rl_env_raw *raw)
{
    memset(raw, 0, sizeof *raw);
    memcpy(raw->s, env->s, sizeof(double) * (size_t)env->spec->state_dim);
    raw->has_state = env->has_state;
    raw->done_before = env->done_before;
    raw->elapsed = env->elapsed;
}

cl_status rl_env_raw_set(rl_env *env, const rl_env_raw *raw)
{
    if (raw->elapsed < 0 || raw->elapsed > env->spec->max_episode_steps ||
        (!raw->has_state && (raw->elapsed || raw->done_before)))
        return CL_ERR_FORMAT;
    for (int i = 0; i < env->spec->state_dim; i++)
        if (!isfinite(raw->s[i]))
            return CL_ERR_FORMAT;
    memset(env->s, 0, sizeof env->s);
    memcpy(env->s, raw->s, sizeof(double) * (size_t)env->spec->state_dim);
    env->has_state = raw->has_state;
    env->done_before = raw->done_before;
    env->elapsed = raw->elapsed;
    return CL_OK;
}

cl_status rl_env_get_state(const rl_env *env, double *state, size_t len)
{
    if (!env || !state || len < (size_t)env->spec->state_dim)
        return CL_ERR_INVALID;
    if (!env->has_state)
        return CL_ERR_STATE;
    memcpy(state, env->s, (size_t)env->spec->state_dim * sizeof *state);
    return CL_OK;
}

/* ------------------------------------------------------------ observations */

static void observe(const rl_env *env, double *obs)
{
    if (!obs)
        return;
    const double *s = env->s;
    switch (env->kind) {
    case ENV_CARTPOLE:
    case ENV_MOUNTAINCAR:
    case ENV_MOUNTAINCAR_CONT:
        for (int i = 0; i < env->spec->state_dim; i++)
            obs[i] = F32(s[i]);
        break;
    case ENV_ACROBOT:
        obs[0] = F32(cos(s[0]));
        obs[1] = F32(sin(s[0]));
        obs[2] = F32(cos(s[1]));
        obs[3] = F32(sin(s[1]));
        obs[4] = F32(s[2]);
        obs[5] = F32(s[3]);
        break;
    case ENV_PENDULUM:
        obs[0] = F32(cos(s[0]));
        obs[1] = F32(sin(s[0]));
        obs[2] = F32(s[1]);
        break;
    }
}

static void clear_episode(rl_env *env)
{
    env->has_state = true;
    env->done_before = false;
    env->elapsed = 0;
}

void rl_env_reset(rl_env *env, rl_rng *rng, double *obs)
{
    if (!env || !rng)
        return;
    double *s = env->s;
    memset(s, 0, sizeof env->s);
    switch (env->kind) {
    case ENV_CARTPOLE: /* every state variable uniform in [-0.05, 0.05) */
        for (int i = 0; i < 4; i++)
            s[i] = rl_rng_range(rng, -0.05, 0.05);
        break;
    case ENV_ACROBOT: /* uniform in [-0.1, 0.1), then cast to float32 as Gymnasium does */
        for (int i = 0; i < 4; i++)
            s[i] = F32(rl_rng_range(rng, -0.1, 0.1));
        break;
    case ENV_MOUNTAINCAR:
    case ENV_MOUNTAINCAR_CONT: /* position uniform in [-0.6, -0.4), velocity 0 */
        s[0] = rl_rng_range(rng, -0.6, -0.4);
        s[1] = 0.0;
        break;
    case ENV_PENDULUM: /* theta uniform in [-pi, pi), theta_dot in [-1, 1) */
        s[0] = rl_rng_range(rng, -RL_PI, RL_PI);
        s[1] = rl_rng_range(rng, -1.0, 1.0);
        break;
    }
    clear_episode(env);
    observe(env, obs);
}

cl_status rl_env_set_state(rl_env *env, const double *state, size_t len, double *obs)
{
    if (!env || !state || len != (size_t)env->spec->state_dim)
        return CL_ERR_INVALID;
    for (size_t i = 0; i < len; i++)
        if (!isfinite(state[i]))
            return CL_ERR_INVALID;
    memset(env->s, 0, sizeof env->s);
    memcpy(env->s, state, len * sizeof *state);
    clear_episode(env);
    observe(env, obs);
    return CL_OK;
}

/* ---------------------------------------------------------------- CartPole */

static bool cartpole_step(rl_env *env, int action, double *reward)
{
    const double gravity = 9.8, masscart = 1.0, masspole = 0.1;
    const double total_mass = masspole + masscart;
    const double length = 0.5; /* half the pole's length */
    const double polemass_length = masspole * length;
    const double force_mag = 10.0, tau = 0.02;
    const double theta_threshold = 12.0 * 2.0 * RL_PI / 360.0, x_threshold = 2.4;

    double *s = env->s;
    double x = s[0], x_dot = s[1], theta = s[2], theta_dot = s[3];
    double force = action == 1 ? force_mag : -force_mag;
    double costheta = cos(theta), sintheta = sin(theta);
    double temp = (force + polemass_length * (theta_dot * theta_dot) * sintheta) / total_mass;
    double thetaacc = (gravity * sintheta - costheta * temp)
                      / (length * (4.0 / 3.0 - masspole * (costheta * costheta) / total_mass));
    double xacc = temp - polemass_length * thetaacc * costheta / total_mass;
    /* explicit Euler, Gymnasium's default kinematics_integrator */
    x = x + tau * x_dot;
    x_dot = x_dot + tau * xacc;
    theta = theta + tau * theta_dot;
    theta_dot = theta_dot + tau * thetaacc;
    s[0] = x; s[1] = x_dot; s[2] = theta; s[3] = theta_dot;

    bool terminated = x < -x_threshold || x > x_threshold || theta < -theta_threshold
                      || theta > theta_threshold;
    if (!terminated) {
        *reward = 1.0;
    } else if (!env->done_before) {
        env->done_before = true;
        *reward = 1.0;
    } else {
        *reward = 0.0; /* stepping past termination: Gymnasium gives 0 */
    }
    return terminated;
}

/* ----------------------------------------------------------------- Acrobot */

/* Time derivative of (theta1, theta2, dtheta1, dtheta2) under torque a,
 * Sutton & Barto's "book" dynamics, in Gymnasium's order of operations. */
static void acrobot_dsdt(const double *y, double a, double *dy)
{
    const double m1 = 1.0, m2 = 1.0, l1 = 1.0, lc1 = 0.5, lc2 = 0.5;
    const double I1 = 1.0, I2 = 1.0, g = 9.8;
    double theta1 = y[0], theta2 = y[1], dtheta1 = y[2], dtheta2 = y[3];
    double d1 = m1 * (lc1 * lc1) + m2 * ((l1 * l1) + (lc2 * lc2) + 2.0 * l1 * lc2 * cos(theta2))
                + I1 + I2;
    double d2 = m2 * ((lc2 * lc2) + l1 * lc2 * cos(theta2)) + I2;
    double phi2 = m2 * lc2 * g * cos(theta1 + theta2 - RL_PI / 2.0);
    double phi1 = -m2 * l1 * lc2 * (dtheta2 * dtheta2) * sin(theta2)
                  - 2.0 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin(theta2)
                  + (m1 * lc1 + m2 * l1) * g * cos(theta1 - RL_PI / 2.0) + phi2;
    double ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * (dtheta1 * dtheta1) * sin(theta2) - phi2)
                      / (m2 * (lc2 * lc2) + I2 - (d2 * d2) / d1);
    double ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
    dy[0] = dtheta1;
    dy[1] = dtheta2;
    dy[2] = ddtheta1;
    dy[3] = ddtheta2;
}

/* x wrapped into [m, M] by whole turns, as Gymnasium's wrap() does. */
static double acrobot_wrap(double x, double m, double M)
{
    double diff = M - m;
    if (fabs(x) > 1e9) /* keep the loops short for absurd inputs */
        x = fmod(x, diff);
    while (x > M)
        x = x - diff;
    while (x < m)
        x = x + diff;
    return x;
}

static double clampd(double x, double lo, double hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

static bool acrobot_step(rl_env *env, int action, double *reward)
{
    static const double torques[3] = {-1.0, 0.0, 1.0};
    const double dt = 0.2; /* one RK4 step over t = [0, dt] */
    const double dt2 = dt / 2.0, dt6 = dt / 6.0;
    double a = torques[action]; /* torque_noise_max = 0 */
    double *s = env->s;
    double y0[4], y[4], k1[4], k2[4], k3[4], k4[4];
    memcpy(y0, s, sizeof y0);

    acrobot_dsdt(y0, a, k1);
    for (int i = 0; i < 4; i++) y[i] = y0[i] + dt2 * k1[i];
    acrobot_dsdt(y, a, k2);
    for (int i = 0; i < 4; i++) y[i] = y0[i] + dt2 * k2[i];
    acrobot_dsdt(y, a, k3);
    for (int i = 0; i < 4; i++) y[i] = y0[i] + dt * k3[i];
    acrobot_dsdt(y, a, k4);
    for (int i = 0; i < 4; i++)
        s[i] = y0[i] + dt6 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);

    s[0] = acrobot_wrap(s[0], -RL_PI, RL_PI);
    s[1] = acrobot_wrap(s[1], -RL_PI, RL_PI);
    s[2] = clampd(s[2], -4.0 * RL_PI, 4.0 * RL_PI);
    s[3] = clampd(s[3], -9.0 * RL_PI, 9.0 * RL_PI);

    bool terminated = -cos(s[0]) - cos(s[1] + s[0]) > 1.0;
    *reward = terminated ? 0.0 : -1.0;
    return terminated;
}

/* ------------------------------------------------------------- MountainCar */

static bool mountaincar_step(rl_env *env, int action, double *reward)
{
    const double min_position = -1.2, max_position = 0.6, max_speed = 0.07;
    const double goal_position = 0.5, goal_velocity = 0.0;
    const double force = 0.001, gravity = 0.0025;
    double position = env->s[0], velocity = env->s[1];

    velocity += (double)(action - 1) * force + cos(3.0 * position) * (-gravity);
    velocity = clampd(velocity, -max_speed, max_speed);
    position += velocity;
    position = clampd(position, min_position, max_position);
    if (position == min_position && velocity < 0.0)
        velocity = 0.0;
    env->s[0] = position;
    env->s[1] = velocity;
    *reward = -1.0;
    return position >= goal_position && velocity >= goal_velocity;
}

/* Continuous version. Gymnasium stores this state as a float32 array after
 * every step (the first step after a reset starts from float64), while the
 * arithmetic of a step runs in double: so compute in double and round the
 * stored state to float32, which reproduces the fixture bit for bit. */
static bool mountaincar_cont_step(rl_env *env, double action, double *reward)
{
    const double min_action = -1.0, max_action = 1.0;
    const double min_position = -1.2, max_position = 0.6, max_speed = 0.07;
    const double goal_position = 0.45, goal_velocity = 0.0, power = 0.0015;
    double position = env->s[0], velocity = env->s[1];

    double force = action < min_action ? min_action : (action > max_action ? max_action : action);
    velocity += force * power - 0.0025 * cos(3.0 * position);
    if (velocity > max_speed)
        velocity = max_speed;
    if (velocity < -max_speed)
        velocity = -max_speed;
    position += velocity;
    if (position > max_position)
        position = max_position;
    if (position < min_position)
        position = min_position;
    if (position == min_position && velocity < 0.0)
        velocity = 0.0;
    bool terminated = position >= goal_position && velocity >= goal_velocity;
    /* the penalty uses the action before clipping, as in Gymnasium */
    *reward = (terminated ? 100.0 : 0.0) - pow(action, 2.0) * 0.1;
    env->s[0] = F32(position);
    env->s[1] = F32(velocity);
    return terminated;
}

/* ---------------------------------------------------------------- Pendulum */

/* NumPy's floating remainder: the sign of the divisor. */
static double np_remainder(double a, double b)
{
    double mod = fmod(a, b);
    if (mod != 0.0) {
        if ((b < 0.0) != (mod < 0.0))
            mod += b;
    } else {
        mod = copysign(0.0, b);
    }
    return mod;
}

static double angle_normalize(double x)
{
    return np_remainder(x + RL_PI, 2.0 * RL_PI) - RL_PI;
}

static bool pendulum_step(rl_env *env, double u, double *reward)
{
    const double max_speed = 8.0, max_torque = 2.0, dt = 0.05;
    const double g = 10.0, m = 1.0, l = 1.0;
    double th = env->s[0], thdot = env->s[1];

    u = clampd(u, -max_torque, max_torque);
    double an = angle_normalize(th);
    double costs = an * an + 0.1 * (thdot * thdot) + 0.001 * (u * u);
    double newthdot = thdot + (3.0 * g / (2.0 * l) * sin(th) + 3.0 / (m * (l * l)) * u) * dt;
    newthdot = clampd(newthdot, -max_speed, max_speed);
    double newth = th + newthdot * dt;
    env->s[0] = newth;
    env->s[1] = newthdot;
    *reward = -costs;
    return false;
}

/* -------------------------------------------------------------------- step */

cl_status rl_env_step(rl_env *env, const double *action, double *obs, double *reward,
                      bool *terminated, bool *truncated)
{
    if (!env || !action)
        return CL_ERR_INVALID;
    if (!env->has_state)
        return CL_ERR_STATE;
    const rl_env_spec *spec = env->spec;
    int a = 0;
    double u = 0.0;
    if (spec->action_kind == RL_ACTION_DISCRETE) {
        double v = action[0];
        if (!(v >= 0.0 && v < (double)spec->n_actions) || v != floor(v))
            return CL_ERR_INVALID;
        a = (int)v;
    } else {
        /* used as given (as Gymnasium uses a float64 action array); a
         * non-finite action is refused */
        u = action[0];
        if (!isfinite(u))
            return CL_ERR_INVALID;
    }

    double r = 0.0;
    bool term = false;
    switch (env->kind) {
    case ENV_CARTPOLE: term = cartpole_step(env, a, &r); break;
    case ENV_ACROBOT: term = acrobot_step(env, a, &r); break;
    case ENV_MOUNTAINCAR: term = mountaincar_step(env, a, &r); break;
    case ENV_MOUNTAINCAR_CONT: term = mountaincar_cont_step(env, u, &r); break;
    case ENV_PENDULUM: term = pendulum_step(env, u, &r); break;
    }
    env->elapsed++;
    observe(env, obs);
    if (reward) *reward = r;
    if (terminated) *terminated = term;
    if (truncated) *truncated = env->elapsed >= spec->max_episode_steps;
    return CL_OK;
}
