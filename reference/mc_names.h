/*
 * mc_names.h: printable names for the reference programs' output.
 */
#ifndef MC_NAMES_H
#define MC_NAMES_H

/* Returns the proto name of ErrorCode |code| ("AUTH_FAILED"), "OK" for 0
 * (ERROR_NONE means success in replies), or "UNKNOWN" for a value outside
 * the enum. Static string. */
const char *mc_names_error_code(int code);

#endif
