/*
 * mc_pcap.h: UDP datagrams out of pcap/pcapng captures, and a pcap writer.
 *
 * The reader opens a capture file (pcap or pcapng, through libpcap's
 * pcap_open_offline) or a live interface, strips the link layer (Ethernet
 * with VLAN tags, Linux cooked SLL and SLL2, BSD loopback DLT_NULL and
 * DLT_LOOP, raw IP: DLT_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6), then IPv4 or
 * IPv6 (extension headers skipped) and UDP, and yields one datagram per
 * frame. Frames it cannot read as UDP (other protocols, IP fragments, frames
 * cut short by the snap length, bad headers) are yielded as "skipped" with a
 * reason, and counted, so a tool can say what it left out. Fragments are not
 * reassembled: MyChat datagrams are at most 1200 bytes and never fragment.
 *
 * The writer emits classic pcap files (microsecond timestamps). Its
 * mc_pcap_write_udp() synthesizes IPv4 or IPv6 and UDP headers, with correct
 * lengths and checksums, around a payload, for LINKTYPE_RAW files; other
 * tools (the conformance recorder, the simulator, the test generator) use it
 * to record MyChat traffic that Wireshark and this reader can open.
 *
 * This is program-level code, not part of the sans-I/O lib/: it reads files
 * and devices. Errors come back as negative MC_ERR_* codes plus a message
 * in a caller-supplied buffer or from mc_pcap_error().
 */
#ifndef MC_PCAP_H
#define MC_PCAP_H

#include <stddef.h>
#include <stdint.h>

/* Link-layer header types (the LINKTYPE_* values written in files). */
#define MC_PCAP_LINKTYPE_NULL 0
#define MC_PCAP_LINKTYPE_ETHERNET 1
#define MC_PCAP_LINKTYPE_RAW 101
#define MC_PCAP_LINKTYPE_LOOP 108
#define MC_PCAP_LINKTYPE_SLL 113
#define MC_PCAP_LINKTYPE_IPV4 228
#define MC_PCAP_LINKTYPE_IPV6 229
#define MC_PCAP_LINKTYPE_SLL2 276

/* "[ffff:...:ffff]:65535" plus NUL, rounded up. */
#define MC_PCAP_ENDPOINT_TEXT_MAX 56
/* The largest IP packet the writer builds: IPv6 header, UDP, payload. */
#define MC_PCAP_PACKET_MAX 65535

/* An IP address and UDP port. |family| is 4 or 6; an IPv4 address takes
 * the first 4 bytes of |ip|. (lib/mc_server.h's mc_addr_set_ip(a, ip,
 * family == 4 ? 4 : 16, port) turns it into an mc_addr.) */
typedef struct {
  uint8_t family;
  uint8_t ip[16];
  uint16_t port;
} mc_pcap_endpoint;

/* What mc_pcap_next() found. */
typedef enum {
  MC_PCAP_END = 0,      /* end of the file (never for a live capture) */
  MC_PCAP_DATAGRAM = 1, /* a UDP datagram: every field of mc_pcap_frame set */
  MC_PCAP_SKIPPED = 2,  /* a frame that is not a readable UDP datagram:
                           frame, ts_us, caplen and skip_reason set */
  MC_PCAP_TIMEOUT = 3   /* live capture: nothing within the read timeout */
} mc_pcap_status;

/* One frame of the capture. The pointers stay valid until the next call
 * of mc_pcap_next() or mc_pcap_close() on the same reader. */
typedef struct {
  uint64_t frame;               /* 1-based frame number in the capture */
  uint64_t ts_us;               /* capture time, microseconds since the epoch */
  uint32_t caplen;              /* bytes of the frame in the capture */
  mc_pcap_endpoint src, dst;
  char src_text[MC_PCAP_ENDPOINT_TEXT_MAX]; /* "127.0.0.1:8000", "[::1]:8000" */
  char dst_text[MC_PCAP_ENDPOINT_TEXT_MAX];
  const uint8_t *payload;       /* the UDP payload, |len| bytes */
  size_t len;
  const char *skip_reason;      /* MC_PCAP_SKIPPED: why (static string);
                                   else NULL */
} mc_pcap_frame;

/* Running counts of a reader, for end-of-run summaries. */
typedef struct {
  uint64_t frames;              /* every frame read */
  uint64_t datagrams;           /* yielded as MC_PCAP_DATAGRAM */
  uint64_t skipped;             /* yielded as MC_PCAP_SKIPPED, all reasons */
  uint64_t fragments;           /* of skipped: IPv4/IPv6 fragments */
  uint64_t not_udp;             /* of skipped: not IP, or IP but not UDP */
  uint64_t cut;                 /* of skipped: shorter than its headers say */
} mc_pcap_counts;

typedef struct mc_pcap_reader mc_pcap_reader;
typedef struct mc_pcap_writer mc_pcap_writer;

/* Opens capture file |path| (pcap or pcapng; "-" is standard input) for
 * reading, timestamps in microseconds. On failure stores NULL in |*out| and
 * a message in |err| (|errlen| bytes; may be NULL). Returns 0, or one of:
 * MC_ERR_INVAL (NULL |out| or |path|, or a link type this module does not
 * read: the message names it), MC_ERR_STORAGE (libpcap could not open or
 * parse the file), MC_ERR_NOMEM. */
int mc_pcap_open_file(mc_pcap_reader **out, const char *path, char *err,
                      size_t errlen);

/* Opens interface |iface| for a live capture with BPF filter |filter| (may
 * be NULL for none); mc_pcap_next() then returns MC_PCAP_TIMEOUT after
 * |timeout_ms| without a frame, or as soon as a signal interrupts its
 * wait, so the caller can check for signals and deadlines. Returns 0, or one of: MC_ERR_INVAL (bad arguments, an
 * unsupported link type, or a filter that does not compile),
 * MC_ERR_AUTH (the user lacks the right to capture: |err| holds libpcap's
 * message), MC_ERR_STORAGE (no such interface or any other libpcap failure),
 * MC_ERR_NOMEM. */
int mc_pcap_open_live(mc_pcap_reader **out, const char *iface,
                      const char *filter, int timeout_ms, char *err,
                      size_t errlen);

/* Reads the next frame into |*f|. Returns MC_PCAP_DATAGRAM,
 * MC_PCAP_SKIPPED, MC_PCAP_TIMEOUT, MC_PCAP_END, or one of:
 * MC_ERR_INVAL (NULL argument), MC_ERR_STORAGE (a read error, such as a
 * file cut off in the middle of a record: mc_pcap_error() says which; the
 * frames before it were yielded normally). */
int mc_pcap_next(mc_pcap_reader *r, mc_pcap_frame *f);

/* Returns the reader's counts so far. */
const mc_pcap_counts *mc_pcap_counts_get(const mc_pcap_reader *r);

/* Returns the link type (MC_PCAP_LINKTYPE_*) of the reader's capture. */
int mc_pcap_linktype(const mc_pcap_reader *r);

/* Returns the message of the reader's last MC_ERR_STORAGE, or "". */
const char *mc_pcap_error(const mc_pcap_reader *r);

/* Closes the reader; NULL is allowed. */
void mc_pcap_close(mc_pcap_reader *r);

/* Writes "1.2.3.4:80" or "[::1]:80" for |e| into |buf| of |cap| bytes
 * (MC_PCAP_ENDPOINT_TEXT_MAX is enough). Returns |buf|. */
char *mc_pcap_endpoint_format(const mc_pcap_endpoint *e, char *buf,
                              size_t cap);

/* Parses "HOST:PORT" (IPv4 dotted quad, or "[IPv6]:PORT") into |*e|.
 * Returns 0, or MC_ERR_INVAL. */
int mc_pcap_endpoint_parse(mc_pcap_endpoint *e, const char *text);

/* Returns 1 when |a| and |b| are the same address and port, else 0. */
int mc_pcap_endpoint_equal(const mc_pcap_endpoint *a,
                           const mc_pcap_endpoint *b);

/* Builds an IP packet (IPv4 or IPv6 after |src|'s family; |dst| must have
 * the same family) carrying a UDP datagram from |src| to |dst| with
 * |payload| of |len| bytes, with correct lengths and UDP checksum, into
 * |buf| of |cap| bytes; stores its length in |*out_len|. Returns 0, or one
 * of: MC_ERR_INVAL (NULL argument, families differ or unknown),
 * MC_ERR_TOO_BIG (the packet would exceed 65535 bytes), MC_ERR_BUFFER_TOO_SMALL. */
int mc_pcap_build_udp(uint8_t *buf, size_t cap, const mc_pcap_endpoint *src,
                      const mc_pcap_endpoint *dst, const uint8_t *payload,
                      size_t len, size_t *out_len);

/* Creates pcap file |path| ("-" is standard output) with link type
 * |linktype| (MC_PCAP_LINKTYPE_*; the value is written as given) and
 * microsecond timestamps. Returns 0, or one of: MC_ERR_INVAL (NULL
 * argument), MC_ERR_STORAGE (the file could not be created: |err| says why),
 * MC_ERR_NOMEM. */
int mc_pcap_writer_open(mc_pcap_writer **out, const char *path,
                        uint32_t linktype, char *err, size_t errlen);

/* Appends one frame of |len| bytes (link-layer header included) with
 * capture time |ts_us|. Returns 0, or one of: MC_ERR_INVAL, MC_ERR_TOO_BIG
 * (over 65535 bytes), MC_ERR_STORAGE (write failed). */
int mc_pcap_write_frame(mc_pcap_writer *w, uint64_t ts_us,
                        const uint8_t *frame, size_t len);

/* Appends a UDP datagram from |src| to |dst| as an IP packet (see
 * mc_pcap_build_udp()); for LINKTYPE_RAW, LINKTYPE_IPV4 (IPv4 endpoints)
 * and LINKTYPE_IPV6 (IPv6 endpoints) writers. Returns 0, or one of:
 * MC_ERR_INVAL (NULL argument, or a link type or family that does not
 * fit), MC_ERR_TOO_BIG, MC_ERR_STORAGE. */
int mc_pcap_write_udp(mc_pcap_writer *w, uint64_t ts_us,
                      const mc_pcap_endpoint *src, const mc_pcap_endpoint *dst,
                      const uint8_t *payload, size_t len);

/* Flushes and closes the writer (NULL is allowed). Returns 0, or
 * MC_ERR_STORAGE when a write or the close failed. */
int mc_pcap_writer_close(mc_pcap_writer *w);

#endif
