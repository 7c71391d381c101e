/*
 * mc_udp.h: UDP sockets, addresses and clocks for the reference programs.
 *
 * The server core and the client core are sans-I/O; this is the small piece
 * of I/O the reference server, the mychat CLI and the integration-test probe
 * share: parsing "HOST:PORT" and "[V6]:PORT", formatting an address the way
 * logs show it ("127.0.0.1:8000", "[::1]:8000"), opening a non-blocking UDP
 * socket with errors that say what failed and where
 * ("bind(127.0.0.1:8000): Address already in use"), and the two clocks the
 * cores want (monotonic microseconds, and the offset to wall-clock time).
 *
 * Functions that can fail return 0 (or a descriptor) on success and -1 on
 * failure, with a message in |err| (|errlen| bytes, always NUL-terminated
 * when errlen > 0).
 */
#ifndef MC_UDP_H
#define MC_UDP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Room for any address mc_udp_format() writes, NUL included. */
#define MC_UDP_ADDRSTRLEN 64

/* Room for a host name or numeric address in "HOST:PORT". */
#define MC_UDP_HOSTMAX 256

/* Splits |hostport| ("127.0.0.1:8000", "localhost:8000", "[::1]:8000") into
 * |host| (|hostcap| bytes) and |*port| (0..65535). Returns 0, or -1 for a
 * missing or bad port, an unclosed bracket, or a host that does not fit. */
int mc_udp_split(const char *hostport, char *host, size_t hostcap,
                 uint16_t *port, char *err, size_t errlen);

/* Resolves |host| (a name or numeric IPv4/IPv6 address; NULL or "" means
 * every local address, 0.0.0.0) with |port| into |*sa| and |*salen|.
 * Returns 0, or -1 when the name does not resolve. */
int mc_udp_resolve(const char *host, uint16_t port,
                   struct sockaddr_storage *sa, socklen_t *salen, char *err,
                   size_t errlen);

/* mc_udp_split() then mc_udp_resolve(). Returns 0 or -1. */
int mc_udp_parse(const char *hostport, struct sockaddr_storage *sa,
                 socklen_t *salen, char *err, size_t errlen);

/* Writes |sa| as "A.B.C.D:PORT" or "[V6]:PORT" into |buf| (|cap| bytes,
 * MC_UDP_ADDRSTRLEN is always enough) and returns |buf|. An address of
 * another family or a short length gives "?". */
const char *mc_udp_format(const struct sockaddr *sa, socklen_t salen,
                          char *buf, size_t cap);

/* Opens a non-blocking, close-on-exec UDP socket of |sa|'s family and binds
 * it to |sa| (port 0: the kernel picks one). Returns the descriptor, or -1
 * with a message such as "bind(127.0.0.1:8000): Address already in use". */
int mc_udp_bind(const struct sockaddr *sa, socklen_t salen, char *err,
                size_t errlen);

/* Opens a non-blocking UDP socket bound to an ephemeral port of the
 * family of |peer| and connects it to |peer|, so it only hears |peer|.
 * Returns the descriptor, or -1 with a message. */
int mc_udp_connect(const struct sockaddr *peer, socklen_t salen, char *err,
                   size_t errlen);

/* Asks for |bytes| of kernel receive and send buffer on |fd|. A busy
 * server that stops reading for a commit's fsync needs far more than the
 * default (about 200 KiB) or the kernel drops what arrives meanwhile, and
 * every dropped datagram costs a retransmission timeout. SO_RCVBUFFORCE
 * (privileged) may pass net.core.rmem_max; otherwise the kernel caps the
 * request there. Sets |*rcv| and |*snd| (either may be NULL) to what the
 * kernel granted. Returns 0, or -1 with a message. */
int mc_udp_set_buffers(int fd, int bytes, int *rcv, int *snd, char *err,
                       size_t errlen);

/* Stores the address |fd| is bound to (the real port after a bind to port
 * 0) in |*sa| and |*salen|. Returns 0, or -1 with a message. */
int mc_udp_local(int fd, struct sockaddr_storage *sa, socklen_t *salen,
                 char *err, size_t errlen);

/* The monotonic clock (CLOCK_MONOTONIC) in microseconds: the |now| of the
 * cores. */
uint64_t mc_udp_now_us(void);

/* Wall-clock milliseconds minus monotonic milliseconds, now: added to
 * now / 1000 it gives Unix time in milliseconds (mc_server_config's
 * wall_offset_ms). */
int64_t mc_udp_wall_offset_ms(void);

#endif
