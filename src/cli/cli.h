/* The cipherl program: one function per sub-command, each in its own file. */
#ifndef CIPHERL_CLI_H
#define CIPHERL_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Each returns the process exit status: 0 on success, 1 on a runtime error,
 * 2 on a usage error. argv[0] is the sub-command's name. */
int cli_cmd_params(int argc, char **argv);   /* cmd_params.c */
int cli_cmd_bench(int argc, char **argv);    /* cmd_bench.c  */
int cli_bench_train(int argc, char **argv);  /* bench_train.c: argv[0] = "train" */
int cli_bench_plain(int argc, char **argv);  /* bench_plain.c: argv[0] = "plain" */
int cli_cmd_demo(int argc, char **argv);     /* cmd_demo.c   */
int cli_cmd_env(int argc, char **argv);      /* cmd_env.c    */
int cli_cmd_train(int argc, char **argv);    /* cmd_train.c  */
int cli_cmd_eval(int argc, char **argv);     /* cmd_train.c  */
int cli_cmd_census(int argc, char **argv);   /* cmd_census.c */
int cli_cmd_model(int argc, char **argv);    /* cmd_model.c  */
int cli_cmd_experiment(int argc, char **argv); /* cmd_experiment.c */
int cli_cmd_keygen(int argc, char **argv);   /* cmd_net.c */
int cli_cmd_serve(int argc, char **argv);    /* cmd_net.c */
int cli_model_pull(int argc, char **argv);   /* cmd_net.c: model pull */

/* Print "cipherl: <message>\n" to stderr (printf-style). */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* cli_util.c */
double cli_now_s(void); /* monotonic seconds */
/* "--name value" or "--name=value": returns the value and advances *i, or
 * NULL if argv[*i] is not that option; *missing is set when the value is absent. */
const char *cli_opt_value(int argc, char **argv, int *i, const char *name, int *missing);
int cli_parse_u64(const char *s, uint64_t *out);   /* 1 on success */
int cli_parse_steps(const char *s, int64_t *out);  /* positive integer, also "5e4"; 1 on success */
/* Mean and population standard deviation (numpy's default) of n > 0 values. */
void cli_mean_std(const double *v, size_t n, double *mean, double *sd);
/* The largest |a_i - b_i| and the largest |a_i| or |b_i| over the parameters
 * of two policies' networks; 0 if they have the same algorithm, environment
 * and architecture, else -1 (nothing written). */
struct rl_policy;
int cli_policy_diff(const struct rl_policy *a, const struct rl_policy *b, double *max_diff, double *max_weight,
                    size_t *n_params);
/* The CKKS preset `name` (test presets only with insecure); on failure prints
 * "<cmd>: ..." and returns 2 (a usage error), else 0. */
struct ckks_params;
int cli_load_preset(const char *cmd, const char *name, int insecure, struct ckks_params **out);

#endif
