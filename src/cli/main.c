/* cipherl: deep reinforcement learning on encrypted data — command-line entry. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cipherl/common.h"
#include "cli/cli.h"

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("cipherl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"demo",   cli_cmd_demo,   "run the main demonstration on embedded defaults"},
    {"params", cli_cmd_params, "list the CKKS parameter presets"},
    {"bench",  cli_cmd_bench,  "measure speed: bench ckks | bench plain --env ENV | bench train --env ENV"},
    {"env",    cli_cmd_env,    "classic-control environments: env list | env rollout ENV ..."},
    {"train",  cli_cmd_train,  "train an agent: train --mode plain|clear|interactive --env ENV [options]"},
    {"eval",   cli_cmd_eval,   "evaluate a trained model: eval --model FILE --env ENV"},
    {"model",  cli_cmd_model,  "model files: model diff A B | model pull --server ADDR --keys DIR --out MODEL"},
    {"census", cli_cmd_census, "what one HE training step costs: census --env ENV --algo ALGO --preset P"},
    {"experiment", cli_cmd_experiment, "plain vs clear: experiment gap --env ENV [--seeds K] | experiment score ..."},
    {"keygen", cli_cmd_keygen, "owner keys: keygen --preset P --out DIR"},
    {"serve",  cli_cmd_serve,  "run a platform: serve --listen ADDR --state DIR"},
};

static void usage(FILE *f)
{
    fprintf(f, "cipherl %s — deep reinforcement learning on CKKS-encrypted data\n\n"
               "usage: cipherl COMMAND [options]\n\ncommands:\n", cl_version_string());
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'cipherl COMMAND --help' describes a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("cipherl %s\n", cl_version_string());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    cli_error("unknown command '%s' (try 'cipherl --help')", argv[1]);
    return 2;
}
