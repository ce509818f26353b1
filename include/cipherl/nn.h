/* cipherl nn layer: dense networks, activations, losses, optimizers.
 * Includes only layers below it (ring, ckks, slots). */
#ifndef CIPHERL_NN_H
#define CIPHERL_NN_H

#include <stddef.h>
#include <stdint.h>
#include "cipherl/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
