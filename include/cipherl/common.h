/* cipherl — status codes shared by every layer.
 *
 * Every fallible library function returns a cl_status; CL_OK is zero. A library
 * function never prints and never exits: callers turn a code into text with
 * cl_strerror(). */
#ifndef CIPHERL_COMMON_H
#define CIPHERL_COMMON_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cl_status {
    CL_OK = 0,
    CL_ERR_INVALID,     /* an argument is out of range or NULL */
    CL_ERR_NOMEM,       /* an allocation failed */
    CL_ERR_INSECURE,    /* parameters below 128-bit security without the insecure flag */
    CL_ERR_PARAMS,      /* objects made for different parameters, or unsupported parameters */
    CL_ERR_LEVEL,       /* not enough levels left, or levels that do not match */
    CL_ERR_SCALE,       /* scales that do not match */
    CL_ERR_NOKEY,       /* the key an operation needs (a rotation step, relinearization) is missing */
    CL_ERR_FORMAT,      /* serialized input is malformed */
    CL_ERR_TRUNCATED,   /* serialized input ends early */
    CL_ERR_VERSION,     /* serialized input has an unknown format version */
    CL_ERR_CHECKSUM,    /* serialized input fails its checksum */
    CL_ERR_RNG,         /* the operating system's random generator failed */
    CL_ERR_IO,          /* reading or writing a file failed */
    CL_ERR_PRIME,       /* not enough NTT-friendly primes of the requested size */
    CL_ERR_PARSE,       /* text input could not be parsed */
    CL_ERR_UNSUPPORTED, /* the operation is not supported in this configuration */
    CL_ERR_STATE,       /* an object is in the wrong state for this call */
    CL_ERR_TIMEOUT,     /* no answer came in time */
    CL_ERR_NET,         /* the network transport failed */
    CL_ERR_REFUSED,     /* the peer refused the request (its error reply says why) */
    CL_ERR_DIVERGED,    /* learning produced non-finite values (the training diverged) */
    CL_STATUS_COUNT
} cl_status;

/* A static, human-readable description of a status code (never NULL). */
const char *cl_strerror(cl_status status);

/* The library's version, "MAJOR.MINOR.PATCH": the Version of cipherl.pc and
 * what `cipherl --version` prints. */
const char *cl_version_string(void);

#ifdef __cplusplus
}
#endif
#endif
