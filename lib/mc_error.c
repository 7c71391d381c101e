#include "mc_error.h"

const char *mc_strerror(int err) {
  switch (err) {
  case MC_OK:
    return "success";
#define MC__ERR_STR(name, val, msg)                                           \
  case MC_ERR_##name:                                                         \
    return msg;
    MC_ERRNO_MAP(MC__ERR_STR)
#undef MC__ERR_STR
  }
  return "unknown error";
}

const char *mc_errname(int err) {
  switch (err) {
  case MC_OK:
    return "MC_OK";
#define MC__ERR_NAME(name, val, msg)                                          \
  case MC_ERR_##name:                                                         \
    return "MC_ERR_" #name;
    MC_ERRNO_MAP(MC__ERR_NAME)
#undef MC__ERR_NAME
  }
  return "MC_ERR_UNKNOWN";
}
