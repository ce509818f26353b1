/* The cipherl program: one function per sub-command, each in its own file. */
#ifndef CIPHERL_CLI_H
#define CIPHERL_CLI_H

#include <stdio.h>

/* Each returns the process exit status: 0 on success, 1 on a runtime error,
 * 2 on a usage error. argv[0] is the sub-command's name. */
int cli_cmd_params(int argc, char **argv);   /* cmd_params.c */
int cli_cmd_bench(int argc, char **argv);    /* cmd_bench.c  */
int cli_cmd_demo(int argc, char **argv);     /* cmd_demo.c   */
int cli_cmd_env(int argc, char **argv);      /* cmd_env.c    */
int cli_cmd_train(int argc, char **argv);    /* cmd_train.c  */
int cli_cmd_eval(int argc, char **argv);     /* cmd_train.c  */

/* Print "cipherl: <message>\n" to stderr (printf-style). */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
