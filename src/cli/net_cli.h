/* The owner's side of a remote run, for train --server and the demo (cmd_net.c). */
#ifndef CIPHERL_CLI_NET_CLI_H
#define CIPHERL_CLI_NET_CLI_H

#include <stdint.h>

#include "cipherl/net.h"
#include "cli/train.h"

typedef struct cli_remote_summary {
    int64_t env_steps, episodes;
    double seconds, setup_seconds;
    uint64_t bytes_sent, bytes_received, refreshes;
    double mean_return; /* of the last n_recent (<= 20) episodes */
    int n_recent;
    net_owner_stats wire; /* the owner's traffic, split by what it served */
} cli_remote_summary;

int cli_train_remote_ex(const cli_train_opts *o, cli_remote_summary *sum);
/* The owner's traffic by kind of request: count, MB and round trip each. */
void cli_print_wire_split(FILE *f, const net_owner_stats *ns);

#endif
