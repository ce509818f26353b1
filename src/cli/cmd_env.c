/* cipherl env — placeholder until the environments land (issue 3). */
#include "cli/cli.h"

int cli_cmd_env(int argc, char **argv)
{
    (void)argc; (void)argv;
    cli_error("env: not available yet");
    return 1;
}
