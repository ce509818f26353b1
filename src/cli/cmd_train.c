/* cipherl train / eval — placeholder until the baselines land (issue 3). */
#include "cli/cli.h"

int cli_cmd_train(int argc, char **argv)
{
    (void)argc; (void)argv;
    cli_error("train: not available yet");
    return 1;
}

int cli_cmd_eval(int argc, char **argv)
{
    (void)argc; (void)argv;
    cli_error("eval: not available yet");
    return 1;
}
