/* cipherl train --mode plain: standard DQN / TD3 in doubles, with training
 * checkpoints. --checkpoint FILE keeps the whole training state in FILE
 * (every --checkpoint-every steps, or every CLI_CHECKPOINT_S seconds, and at
 * the end); --resume FILE goes on from it, bit for bit as if the run had not
 * stopped; --stop-after N stops after N steps (exit CLI_EXIT_STOPPED), and
 * SIGINT or SIGTERM stop it cleanly at the next step (exit
 * CLI_EXIT_INTERRUPTED), both after a last checkpoint. The log and the trace
 * of a resumed run are the ones it started: cut back to what the
 * checkpoint counted, then continued. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cipherl/rl.h"
#include "cli/cli.h"
#include "cli/train.h"

static const char LOG_HEADER[] = "step,episode,return,length\n";
static const char TRACE_HEADER[] = "step,action\n";

/* What the program keeps beside the library's state in a checkpoint (its
 * user block, as one line of text). */
typedef struct run_book {
    uint64_t seed;
    double elapsed;                 /* seconds of training so far */
    int64_t log_bytes, trace_bytes; /* bytes written to each file; -1: none */
    char log_tail[96], trace_tail[96]; /* the last line of each, to know the file again */
    double recent[CLI_RECENT];      /* the progress line's last returns */
    int n_recent, recent_pos;
} run_book;

#define BOOK_TAG "cipherl-train-book 1"

static void book_format(const run_book *b, char *buf, size_t cap)
{
    size_t k = (size_t)snprintf(buf, cap,
                                BOOK_TAG " seed=%" PRIu64 " elapsed=%.17g log_bytes=%" PRId64
                                " trace_bytes=%" PRId64 " log_tail=%s trace_tail=%s n_recent=%d"
                                " recent_pos=%d recent=",
                                b->seed, b->elapsed, b->log_bytes, b->trace_bytes,
                                b->log_tail[0] ? b->log_tail : "-",
                                b->trace_tail[0] ? b->trace_tail : "-", b->n_recent,
                                b->recent_pos);
    for (int i = 0; i < b->n_recent && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%.17g", i ? "," : "", b->recent[i]);
}

/* 0 on success */
static int book_parse(const char *text, run_book *b)
{
    memset(b, 0, sizeof *b);
    int used = -1;
    if (sscanf(text,
               BOOK_TAG " seed=%" SCNu64 " elapsed=%lf log_bytes=%" SCNd64 " trace_bytes=%" SCNd64
               " log_tail=%95s trace_tail=%95s n_recent=%d recent_pos=%d recent=%n",
               &b->seed, &b->elapsed, &b->log_bytes, &b->trace_bytes, b->log_tail,
               b->trace_tail, &b->n_recent, &b->recent_pos, &used) != 8 ||
        used < 0)
        return -1;
    if (!isfinite(b->elapsed) || b->elapsed < 0 || b->log_bytes < -1 || b->trace_bytes < -1 ||
        b->n_recent < 0 || b->n_recent > CLI_RECENT || b->recent_pos < 0 ||
        b->recent_pos >= CLI_RECENT)
        return -1;
    if (!strcmp(b->log_tail, "-"))
        b->log_tail[0] = 0;
    if (!strcmp(b->trace_tail, "-"))
        b->trace_tail[0] = 0;
    const char *p = text + used;
    for (int i = 0; i < b->n_recent; i++) {
        if (i) {
            if (*p != ',')
                return -1;
            p++;
        }
        char *end;
        b->recent[i] = strtod(p, &end);
        if (end == p || !isfinite(b->recent[i]))
            return -1;
        p = end;
    }
    return *p ? -1 : 0;
}

/* One plain run: what it trains and the files it writes. */
typedef struct plain_run {
    rl_agent *ag;
    rl_env *env;
    rl_rng env_rng;
    rl_hparams hp;
    const rl_env_spec *spec;
    run_book book;
    FILE *log, *trace;
    const char *ckpt_path;
} plain_run;

static void run_free(plain_run *r)
{
    rl_agent_free(r->ag);
    rl_env_free(r->env);
    if (r->log)
        fclose(r->log);
    if (r->trace)
        fclose(r->trace);
}

/* A new run from the command line. */
static int setup_fresh(const cli_train_opts *o, plain_run *r)
{
    const rl_env_spec *spec = rl_env_find(o->env_id);
    if (!spec) {
        cli_error("train: unknown environment '%s' (see 'cipherl env list')", o->env_id);
        return 2;
    }
    rl_algo algo = rl_algo_default_for(spec);
    if (o->algo && rl_algo_parse(o->algo, &algo) != CL_OK) {
        cli_error("train: unknown algorithm '%s' (dqn or td3)", o->algo);
        return 2;
    }
    rl_hparams hp;
    cl_status st = rl_hp_defaults(algo, o->env_id, &hp);
    if (st == CL_ERR_UNSUPPORTED) {
        cli_error("train: %s needs %s actions; %s has %s actions", rl_algo_name(algo),
                  algo == RL_ALGO_DQN ? "discrete" : "continuous", o->env_id,
                  spec->action_kind == RL_ACTION_DISCRETE ? "discrete" : "continuous");
        return 2;
    } else if (st != CL_OK) {
        cli_error("train: %s", cl_strerror(st));
        return 1;
    }
    char err[1280];
    for (int k = 0; k < o->n_hp; k++)
        if (rl_hp_assign(&hp, o->hps[k], err, sizeof err) != CL_OK) {
            cli_error("train: --hp %s: %s", o->hps[k], err);
            return 2;
        }
    if (rl_hp_check(&hp, err, sizeof err) != CL_OK) {
        cli_error("train: %s", err);
        return 2;
    }
    if (o->steps)
        hp.n_timesteps = o->steps; /* so the hyperparameter line says what ran */
    st = rl_env_create(o->env_id, &r->env);
    if (st == CL_OK)
        st = rl_agent_create(&hp, spec, o->seed ^ 0x5bd1e9955bd1e995ULL, &r->ag);
    if (st == CL_OK) {
        rl_rng_seed(&r->env_rng, o->seed);
        st = rl_agent_begin(r->ag, r->env, &r->env_rng, hp.n_timesteps);
    }
    if (st != CL_OK) {
        cli_error("train: cannot set up: %s", cl_strerror(st));
        return 1;
    }
    r->hp = hp;
    r->spec = spec;
    r->book.seed = o->seed;
    r->book.log_bytes = r->book.trace_bytes = -1;
    return 0;
}

/* The run of a checkpoint; what the command line also says must agree with it. */
static int setup_resume(const cli_train_opts *o, plain_run *r)
{
    uint8_t *user = NULL;
    size_t user_len = 0;
    errno = 0;
    cl_status st = rl_checkpoint_load(o->resume_path, &r->ag, &r->env, &r->env_rng, &user,
                                      &user_len);
    if (st == CL_ERR_IO) {
        cli_error("train: cannot read the checkpoint '%s': %s", o->resume_path,
                  errno ? strerror(errno) : "read error");
        return 1;
    } else if (st != CL_OK) {
        cli_error("train: '%s' is not a usable checkpoint: %s", o->resume_path,
                  cl_strerror(st));
        return 1;
    }
    int bad = book_parse((const char *)user, &r->book);
    free(user);
    if (bad) {
        cli_error("train: '%s' is not a checkpoint of 'cipherl train' (its run record is "
                  "malformed)", o->resume_path);
        return 1;
    }
    r->hp = *rl_agent_hparams(r->ag);
    r->spec = rl_env_get_spec(r->env);
    if (o->env_id && strcmp(o->env_id, r->spec->id)) {
        cli_error("train: --env %s, but the checkpoint's run is on %s", o->env_id, r->spec->id);
        return 2;
    }
    rl_algo algo;
    if (o->algo && (rl_algo_parse(o->algo, &algo) != CL_OK || algo != r->hp.algo)) {
        cli_error("train: --algo %s, but the checkpoint's run is %s", o->algo,
                  rl_algo_name(r->hp.algo));
        return 2;
    }
    if (o->seed_given && o->seed != r->book.seed) {
        cli_error("train: --seed %" PRIu64 ", but the checkpoint's run has seed %" PRIu64,
                  o->seed, r->book.seed);
        return 2;
    }
    if (o->steps && o->steps != r->hp.n_timesteps) {
        cli_error("train: --steps %" PRId64 ", but the checkpoint's run has %" PRId64
                  " (its schedules span them)", o->steps, r->hp.n_timesteps);
        return 2;
    }
    char err[1280], a[2048], b[2048];
    rl_hparams mine = r->hp;
    for (int k = 0; k < o->n_hp; k++) {
        if (rl_hp_assign(&mine, o->hps[k], err, sizeof err) != CL_OK) {
            cli_error("train: --hp %s: %s", o->hps[k], err);
            return 2;
        }
        rl_hp_format(&mine, a, sizeof a);
        rl_hp_format(&r->hp, b, sizeof b);
        if (strcmp(a, b)) {
            cli_error("train: --hp %s differs from the checkpoint's run (%s)", o->hps[k], b);
            return 2;
        }
    }
    int64_t step;
    rl_agent_counters(r->ag, &step, NULL, NULL);
    fprintf(stderr, "train: resuming %s on %s (seed %" PRIu64 ") at step %" PRId64 " of %" PRId64
                    " from '%s'\n",
            rl_algo_name(r->hp.algo), r->spec->id, r->book.seed, step, r->hp.n_timesteps,
            o->resume_path);
    return 0;
}

/* Writes one line (text ending in '\n') to f, counts its bytes and keeps it
 * (without the '\n') as the file's tail. */
static void put_line(FILE *f, const char *line, int64_t *bytes, char *tail, size_t tail_cap)
{
    size_t n = strlen(line);
    fputs(line, f);
    *bytes += (int64_t)n;
    snprintf(tail, tail_cap, "%.*s", (int)(n - 1), line);
}

/* A new CSV file with its header. */
static int open_fresh(const char *path, const char *header, FILE **f, int64_t *bytes, char *tail,
                      size_t tail_cap)
{
    *f = fopen(path, "w");
    if (!*f) {
        cli_error("train: cannot write '%s': %s", path, strerror(errno));
        return 1;
    }
    *bytes = 0;
    put_line(*f, header, bytes, tail, tail_cap);
    return 0;
}

/* The file a checkpointed run was writing: cut back to the bytes the
 * checkpoint counted (what was written after it is written again), then
 * continued. */
static int open_continued(const char *path, const char *what, const char *header,
                          int64_t bytes, const char *tail, FILE **f)
{
    if (bytes < 0) {
        cli_error("train: the checkpoint's run wrote no %s; resume it without that option",
                  what);
        return 2;
    }
    *f = fopen(path, "r+");
    if (!*f) {
        cli_error("train: cannot continue the %s '%s': %s", what, path, strerror(errno));
        return 1;
    }
    size_t hl = strlen(header);
    char head[64] = {0};
    long size = fseek(*f, 0, SEEK_END) == 0 ? ftell(*f) : -1;
    int same = size >= (long)hl && fseek(*f, 0, SEEK_SET) == 0 && fread(head, 1, hl, *f) == hl &&
               !memcmp(head, header, hl);
    /* its last line at the checkpoint must be the one the checkpoint kept */
    size_t tl = strlen(tail);
    char last[100] = {0};
    int known = same && size >= bytes && bytes >= (int64_t)tl + 1 &&
                fseek(*f, (long)(bytes - (int64_t)tl - 1), SEEK_SET) == 0 &&
                fread(last, 1, tl + 1, *f) == tl + 1 && !memcmp(last, tail, tl) &&
                last[tl] == '\n';
    if (!known) {
        cli_error("train: '%s' is not the %s of the checkpoint's run (%s); it is left as it is",
                  path, what,
                  !same            ? "its header differs"
                  : size < bytes ? "it is shorter than the checkpoint counted"
                                 : "its line at the checkpoint differs");
        return 2;
    }
    if (ftruncate(fileno(*f), (off_t)bytes) != 0 || fseek(*f, 0, SEEK_END) != 0) {
        cli_error("train: cannot continue the %s '%s': %s", what, path, strerror(errno));
        return 1;
    }
    return 0;
}

static int open_files(const cli_train_opts *o, plain_run *r)
{
    int rc = 0;
    if (o->log_path)
        rc = o->resume_path ? open_continued(o->log_path, "log", LOG_HEADER, r->book.log_bytes,
                                             r->book.log_tail, &r->log)
                            : open_fresh(o->log_path, LOG_HEADER, &r->log, &r->book.log_bytes,
                                         r->book.log_tail, sizeof r->book.log_tail);
    else
        r->book.log_bytes = -1;
    if (rc == 0 && o->trace_path)
        rc = o->resume_path ? open_continued(o->trace_path, "trace", TRACE_HEADER,
                                             r->book.trace_bytes, r->book.trace_tail, &r->trace)
                            : open_fresh(o->trace_path, TRACE_HEADER, &r->trace,
                                         &r->book.trace_bytes, r->book.trace_tail,
                                         sizeof r->book.trace_tail);
    else if (rc == 0)
        r->book.trace_bytes = -1;
    return rc;
}

/* Flushes the files, then writes the checkpoint; 0 on success. */
static int save_checkpoint(plain_run *r, double elapsed)
{
    if ((r->log && fflush(r->log) != 0) || (r->trace && fflush(r->trace) != 0)) {
        cli_error("train: writing the log or trace failed: %s", strerror(errno));
        return 1;
    }
    r->book.elapsed = elapsed;
    char text[CLI_RECENT * 32 + 256];
    book_format(&r->book, text, sizeof text);
    cl_status st = rl_checkpoint_save(r->ag, r->env, &r->env_rng, text, strlen(text),
                                      r->ckpt_path);
    if (st != CL_OK) {
        cli_error("train: cannot write the checkpoint '%s': %s", r->ckpt_path,
                  st == CL_ERR_IO && errno ? strerror(errno) : cl_strerror(st));
        return 1;
    }
    return 0;
}

static volatile sig_atomic_t stop_signal;
static void on_stop_signal(int sig) { stop_signal = sig; }

/* How to go on after a stop, on stderr. */
static void say_how_to_resume(const cli_train_opts *o, const plain_run *r, int64_t step)
{
    if (!r->ckpt_path) {
        fprintf(stderr, "train: stopped at step %" PRId64 " of %" PRId64
                        " (no --checkpoint: this run cannot be continued)\n",
                step, r->hp.n_timesteps);
        return;
    }
    fprintf(stderr, "train: stopped at step %" PRId64 " of %" PRId64
                    "; to go on: cipherl train --resume '%s'",
            step, r->hp.n_timesteps, r->ckpt_path);
    if (o->log_path)
        fprintf(stderr, " --log '%s'", o->log_path);
    if (o->trace_path)
        fprintf(stderr, " --trace '%s'", o->trace_path);
    if (o->out_path)
        fprintf(stderr, " --out '%s'", o->out_path);
    fputc('\n', stderr);
}

static int run_loop(const cli_train_opts *o, plain_run *r, int *stopped)
{
    const int64_t steps = r->hp.n_timesteps;
    int64_t start, episodes;
    rl_agent_counters(r->ag, &start, &episodes, NULL);
    run_book *bk = &r->book;
    const double t0 = cli_now_s(), before = bk->elapsed;
    double last_draw = 0.0, last_ckpt = t0;
    int64_t step = start;
    rl_step_info info = {0};
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    stop_signal = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    int rc = 0;
    *stopped = 0;
    while (step < steps) {
        if (stop_signal) {
            *stopped = CLI_EXIT_INTERRUPTED;
            break;
        }
        if (o->stop_after && step - start >= o->stop_after) {
            *stopped = CLI_EXIT_STOPPED;
            break;
        }
        cl_status st = rl_agent_step(r->ag, r->env, &r->env_rng, &info);
        if (st != CL_OK) {
            if (o->progress)
                fputc('\n', stderr);
            cli_error("train: step %" PRId64 " failed: %s", step + 1, cl_strerror(st));
            rc = 1;
            break;
        }
        step = info.step;
        episodes = info.episode;
        char line[96];
        if (r->trace) {
            if (r->spec->action_kind == RL_ACTION_DISCRETE)
                snprintf(line, sizeof line, "%" PRId64 ",%d\n", info.step, (int)info.action[0]);
            else
                snprintf(line, sizeof line, "%" PRId64 ",%.17g\n", info.step, info.action[0]);
            put_line(r->trace, line, &bk->trace_bytes, bk->trace_tail, sizeof bk->trace_tail);
        }
        if (info.episode_done) {
            bk->recent[bk->recent_pos] = info.episode_return;
            bk->recent_pos = (bk->recent_pos + 1) % CLI_RECENT;
            if (bk->n_recent < CLI_RECENT)
                bk->n_recent++;
            if (r->log) {
                snprintf(line, sizeof line, "%" PRId64 ",%" PRId64 ",%.10g,%" PRId64 "\n",
                         info.step, info.episode, info.episode_return, info.episode_length);
                put_line(r->log, line, &bk->log_bytes, bk->log_tail, sizeof bk->log_tail);
                fflush(r->log); /* a row per episode is on the disk even if the run dies */
            }
        }
        int due = o->checkpoint_every > 0 && step % o->checkpoint_every == 0;
        if ((step & 63) == 0) {
            double t = cli_now_s();
            if (o->progress && t - last_draw >= 0.25) {
                last_draw = t;
                cli_train_progress(step, steps, before + t - t0, episodes, bk->recent,
                                   bk->n_recent, 0);
            }
            due |= o->checkpoint_every == 0 && t - last_ckpt >= CLI_CHECKPOINT_S;
        }
        if (r->ckpt_path && due && step < steps) {
            if (save_checkpoint(r, before + cli_now_s() - t0)) {
                rc = 1;
                break;
            }
            last_ckpt = cli_now_s();
        }
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    double elapsed = before + cli_now_s() - t0;
    if (o->progress && rc == 0)
        cli_train_progress(step, steps, elapsed, episodes, bk->recent, bk->n_recent, 1);
    /* the end, or a stop: the checkpoint holds the state reached */
    if (rc == 0 && r->ckpt_path && save_checkpoint(r, elapsed))
        rc = 1;
    bk->elapsed = elapsed;
    return rc;
}

int cli_train_plain(const cli_train_opts *o)
{
    if (o->stop_after && !o->checkpoint_path && !o->resume_path) {
        cli_error("train: --stop-after needs --checkpoint FILE (or --resume FILE) to go on from");
        return 2;
    }
    plain_run r;
    memset(&r, 0, sizeof r);
    r.ckpt_path = o->checkpoint_path ? o->checkpoint_path : o->resume_path;
    int rc = o->resume_path ? setup_resume(o, &r) : setup_fresh(o, &r);
    if (rc == 0)
        rc = open_files(o, &r);
    int stopped = 0;
    if (rc == 0)
        rc = run_loop(o, &r, &stopped);
    if (r.log && fclose(r.log) != 0 && rc == 0) {
        cli_error("train: writing '%s' failed", o->log_path);
        rc = 1;
    }
    if (r.trace && fclose(r.trace) != 0 && rc == 0) {
        cli_error("train: writing '%s' failed", o->trace_path);
        rc = 1;
    }
    r.log = r.trace = NULL;
    int64_t steps, episodes, grad_steps;
    rl_agent_counters(r.ag, &steps, &episodes, &grad_steps);
    if (rc == 0 && stopped) {
        say_how_to_resume(o, &r, steps);
        run_free(&r);
        return stopped;
    }
    if (rc == 0 && o->out_path) {
        cl_status st = rl_agent_save(r.ag, o->out_path);
        if (st != CL_OK) {
            cli_error("train: cannot save the model to '%s': %s", o->out_path, cl_strerror(st));
            rc = 1;
        }
    }
    if (rc == 0) {
        const run_book *bk = &r.book;
        double mean = 0;
        for (int i = 0; i < bk->n_recent; i++)
            mean += bk->recent[i];
        char mtxt[64] = "n/a (no episode finished)";
        if (bk->n_recent)
            snprintf(mtxt, sizeof mtxt, "%.2f", mean / bk->n_recent);
        double el = bk->elapsed;
        printf("trained %s on %s (mode plain, seed %" PRIu64 "): %" PRId64 " steps, %" PRId64
               " episodes, %" PRId64 " gradient steps in %.2f s (%.0f env steps/s); mean return "
               "of the last %d episodes %s\n",
               rl_algo_name(r.hp.algo), r.spec->id, bk->seed, steps, episodes, grad_steps, el,
               el > 0 ? (double)steps / el : 0.0, bk->n_recent, mtxt);
        char hpbuf[2048];
        rl_hp_format(&r.hp, hpbuf, sizeof hpbuf);
        printf("hyperparameters: %s\n", hpbuf);
    }
    run_free(&r);
    return rc;
}
