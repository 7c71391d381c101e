/*
 * mc_error.h: the one error enum of libmychat and its strings.
 *
 * Every library function that can fail returns 0 (or a non-negative count)
 * on success and one of the negative MC_ERR_* values below on failure. The
 * enum and the strings come from one X-macro table so they cannot drift
 * apart (libuv's UV_ERRNO_MAP does the same).
 */
#ifndef MC_ERROR_H
#define MC_ERROR_H

/* -16 (WINDOW_FULL) and -25 (WRONG_DIRECTION) were never returned and are
 * retired; their numbers are not reused. */
#define MC_ERRNO_MAP(X)                                                       \
  X(NOMEM, -1, "out of memory")                                               \
  X(INVAL, -2, "invalid argument")                                            \
  X(TRUNCATED, -3, "datagram shorter than the MyChat prefix")                 \
  X(TOO_BIG, -4, "datagram larger than the MyChat maximum")                   \
  X(BAD_MAGIC, -5, "not a MyChat datagram (bad magic)")                       \
  X(BAD_VERSION, -6, "unsupported MyChat protocol version")                   \
  X(DECODE, -7, "envelope is not valid protobuf")                             \
  X(NO_BODY, -8, "envelope has no body")                                      \
  X(MISSING_FIELD, -9, "a required field is missing or empty")                \
  X(BAD_FIELD, -10, "a field value is out of range")                          \
  X(BAD_UTF8, -11, "text is not valid UTF-8")                                 \
  X(TEXT_TOO_LONG, -12, "text longer than the limit")                         \
  X(BAD_NAME, -13, "name breaks the name rules")                              \
  X(BAD_PASSWORD, -14, "password length out of range")                        \
  X(BUFFER_TOO_SMALL, -15, "output buffer too small")                         \
  X(QUEUE_FULL, -17, "queue full")                                            \
  X(STATE, -18, "operation not allowed in the current state")                 \
  X(NOT_FOUND, -19, "not found")                                              \
  X(EXISTS, -20, "already exists")                                            \
  X(STORAGE, -21, "storage failure")                                          \
  X(LIMIT, -22, "limit reached")                                              \
  X(GAVE_UP, -23, "peer did not acknowledge; gave up")                        \
  X(AUTH, -24, "authentication failed")

typedef enum {
  MC_OK = 0,
#define MC__ERR_ENUM(name, val, msg) MC_ERR_##name = (val),
  MC_ERRNO_MAP(MC__ERR_ENUM)
#undef MC__ERR_ENUM
} mc_error;

/* Returns a static, human-readable string for |err| (any int: unknown values
 * give "unknown error"). */
const char *mc_strerror(int err);

/* Returns the short symbolic name of |err| ("MC_ERR_BAD_UTF8"), for logs and
 * test output. */
const char *mc_errname(int err);

#endif
