#include "cipherl/common.h"

#ifndef CIPHERL_LIB_VERSION
#error "CIPHERL_LIB_VERSION is set by CMakeLists.txt"
#endif

const char *cl_version_string(void)
{
    return CIPHERL_LIB_VERSION;
}

const char *cl_strerror(cl_status status)
{
    switch (status) {
    case CL_OK:              return "success";
    case CL_ERR_INVALID:     return "invalid argument";
    case CL_ERR_NOMEM:       return "out of memory";
    case CL_ERR_INSECURE:    return "parameters are below 128-bit security (allowed only with the insecure-for-tests flag)";
    case CL_ERR_PARAMS:      return "parameters do not match or are not supported";
    case CL_ERR_LEVEL:       return "not enough levels left, or levels do not match";
    case CL_ERR_SCALE:       return "scales do not match";
    case CL_ERR_NOKEY:       return "the required evaluation key is missing";
    case CL_ERR_FORMAT:      return "malformed input";
    case CL_ERR_TRUNCATED:   return "input is truncated";
    case CL_ERR_VERSION:     return "unsupported format version";
    case CL_ERR_CHECKSUM:    return "checksum mismatch (corrupted input)";
    case CL_ERR_RNG:         return "the operating system's random generator failed";
    case CL_ERR_IO:          return "input/output error";
    case CL_ERR_PRIME:       return "not enough NTT-friendly primes of the requested size";
    case CL_ERR_PARSE:       return "could not parse input";
    case CL_ERR_UNSUPPORTED: return "operation not supported";
    case CL_ERR_STATE:       return "object is in the wrong state for this call";
    case CL_ERR_TIMEOUT:     return "no answer came in time";
    case CL_ERR_NET:         return "network transport failure";
    case CL_ERR_REFUSED:     return "the peer refused the request";
    case CL_ERR_DIVERGED:    return "the training diverged: the network's outputs are no longer finite";
    case CL_STATUS_COUNT:    break;
    }
    return "unknown status code";
}
