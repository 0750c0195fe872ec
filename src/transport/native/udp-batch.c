/*
 * Batched UDP for the DNS listener: recvmmsg(2) and sendmmsg(2) behind a libuv poll
 * handle, so a burst of queries costs one wake-up, one receive call, one JS call and one
 * send call instead of two system calls, a Buffer, an address object and a send request
 * per datagram (which is where Node's dgram spends most of a cache hit; see the README).
 *
 * The datagrams and their peers' addresses sit in buffers JS hands over at open(): SLOTS
 * slots of SLOT_BYTES for queries in, the same for replies out, and META int32s per slot
 * (length, port, the address as four big-endian words). A reply the socket cannot take now
 * is copied into a bounded queue and sent when the socket is writable again.
 *
 * The same socket serves the upstream side connected to one server (open() with `peer`):
 * answers then come in batches with no Buffer, address object or 64 KiB receive buffer per
 * datagram (Node's dgram allocates all three), and a query goes out with send(2).
 *
 * Linux only; elsewhere the module loads but offers nothing and the dgram listener is used.
 */
#define _GNU_SOURCE 1
#include <node_api.h>

#include "socket-common.h"
#include "tcp-listen.h"
#include "../../cache/native/shared-memory.h"
#include "../../server/native/heap-trim.h"

#ifdef __linux__
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define SLOTS 64
#define SLOT_BYTES 4096
#define META 6
/* At most this many batches per wake-up, so a flood cannot starve timers and TCP. */
#define BATCHES_PER_WAKEUP 8
/* Replies waiting for a writable socket; beyond this they are dropped (and counted). */
#define QUEUE_LIMIT 4096

typedef struct Pending {
  struct Pending *next;
  struct sockaddr_storage address;
  socklen_t address_length;
  size_t length;
  unsigned char data[];
} Pending;

typedef struct {
  int fd;
  int family;
  int reading;
  int closing;
  int handle_closed;
  int free_on_close;
  int events;
  /* Connected to `peer` (the upstream side): sends need no address, errors are reported. */
  int connected;
  struct sockaddr_storage peer;
  uv_poll_t poll;
  napi_env env;
  napi_ref on_batch;
  napi_ref buffers[4];
  napi_async_context context;
  unsigned char *in, *out;
  int32_t *in_meta, *out_meta;
  struct mmsghdr receive[SLOTS], send[SLOTS];
  struct iovec receive_iov[SLOTS], send_iov[SLOTS];
  struct sockaddr_storage receive_address[SLOTS], send_address[SLOTS];
  Pending *head, *tail;
  int queued;
  double received, truncated, sent, dropped, batches;
} Socket;

static void write_meta(int32_t *meta, const struct sockaddr_storage *address, int length) {
  meta[0] = length;
  if (address->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)address;
    meta[1] = ntohs(in6->sin6_port);
    for (int i = 0; i < 4; i++) {
      uint32_t word;
      memcpy(&word, in6->sin6_addr.s6_addr + 4 * i, 4);
      meta[2 + i] = (int32_t)ntohl(word);
    }
  } else {
    const struct sockaddr_in *in4 = (const struct sockaddr_in *)address;
    meta[1] = ntohs(in4->sin_port);
    meta[2] = (int32_t)ntohl(in4->sin_addr.s_addr);
    meta[3] = meta[4] = meta[5] = 0;
  }
}

static void read_meta(const int32_t *meta, int family, struct sockaddr_storage *address) {
  memset(address, 0, sizeof *address);
  if (family == AF_INET6) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)address;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)meta[1]);
    for (int i = 0; i < 4; i++) {
      uint32_t word = htonl((uint32_t)meta[2 + i]);
      memcpy(in6->sin6_addr.s6_addr + 4 * i, &word, 4);
    }
  } else {
    struct sockaddr_in *in4 = (struct sockaddr_in *)address;
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)meta[1]);
    in4->sin_addr.s_addr = htonl((uint32_t)meta[2]);
  }
}

static void on_poll(uv_poll_t *handle, int status, int events);

/* Polls for what is wanted now: reading unless paused, writing while replies wait. */
static void update_poll(Socket *s) {
  if (s->closing) return;
  int events = (s->reading ? UV_READABLE : 0) | (s->queued > 0 ? UV_WRITABLE : 0);
  if (events == s->events) return;
  s->events = events;
  if (events == 0) uv_poll_stop(&s->poll);
  else uv_poll_start(&s->poll, events, on_poll);
}

static int would_block(int error) {
  return error == EAGAIN || error == EWOULDBLOCK || error == ENOBUFS;
}

static void enqueue(Socket *s, const unsigned char *data, size_t length, const struct sockaddr_storage *address) {
  if (s->queued >= QUEUE_LIMIT) {
    s->dropped++;
    return;
  }
  Pending *pending = malloc(sizeof(Pending) + length);
  if (pending == NULL) {
    s->dropped++;
    return;
  }
  pending->next = NULL;
  pending->address = *address;
  pending->address_length = address_length(s->family);
  pending->length = length;
  memcpy(pending->data, data, length);
  if (s->tail == NULL) s->head = pending;
  else s->tail->next = pending;
  s->tail = pending;
  s->queued++;
  update_poll(s);
}

/* A connected socket sends to its peer with no address given, so the kernel keeps using the route it cached at connect(). */
static ssize_t send_to(Socket *s, const unsigned char *data, size_t length, const struct sockaddr_storage *address, socklen_t address_length) {
  if (s->connected) return send(s->fd, data, length, MSG_DONTWAIT);
  return sendto(s->fd, data, length, MSG_DONTWAIT, (const struct sockaddr *)address, address_length);
}

/*
 * One datagram now, or queued behind those already waiting (order is kept). Returns 0, or
 * the error that refused the datagram (then lost, as UDP allows: for a listener an
 * unreachable client, for a connected socket a refusing server, which the caller is told).
 */
static int send_one(Socket *s, const unsigned char *data, size_t length, const struct sockaddr_storage *address) {
  if (s->queued == 0) {
    for (;;) {
      ssize_t sent = send_to(s, data, length, address, address_length(s->family));
      if (sent >= 0) {
        s->sent++;
        return 0;
      }
      if (errno == EINTR) continue;
      if (would_block(errno)) break;
      s->dropped++;
      return errno;
    }
  }
  enqueue(s, data, length, address);
  return 0;
}

static void drain_queue(Socket *s) {
  while (s->head != NULL) {
    Pending *pending = s->head;
    ssize_t sent = send_to(s, pending->data, pending->length, &pending->address, pending->address_length);
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && would_block(errno)) break;
    if (sent < 0) s->dropped++;
    else s->sent++;
    s->head = pending->next;
    if (s->head == NULL) s->tail = NULL;
    s->queued--;
    free(pending);
  }
  update_poll(s);
}

/* Calls onBatch(value); false when it threw (then reported as an uncaught exception). */
static int call_back(Socket *s, int value) {
  napi_env env = s->env;
  napi_value callback, receiver, argument, result;
  napi_get_reference_value(env, s->on_batch, &callback);
  napi_get_global(env, &receiver);
  napi_create_int32(env, value, &argument);
  /* make_callback runs the nextTick queue and microtasks afterwards, as for any I/O callback. */
  if (napi_make_callback(env, s->context, receiver, callback, 1, &argument, &result) == napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
    return 0;
  }
  return 1;
}

static int same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
  if (a->ss_family != b->ss_family) return 0;
  if (a->ss_family == AF_INET6) {
    const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a, *y = (const struct sockaddr_in6 *)b;
    return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
  }
  const struct sockaddr_in *x = (const struct sockaddr_in *)a, *y = (const struct sockaddr_in *)b;
  return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
}

/* A connected socket's pending error (an ICMP port unreachable: the server refuses), handed to onBatch as -errno. */
static void report_error(Socket *s, int error) {
  napi_handle_scope scope;
  if (napi_open_handle_scope(s->env, &scope) != napi_ok) return;
  call_back(s, -error);
  napi_close_handle_scope(s->env, scope);
}

static void receive_batches(Socket *s) {
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  for (int batch = 0; batch < BATCHES_PER_WAKEUP && s->reading && !s->closing; batch++) {
    for (int i = 0; i < SLOTS; i++) s->receive[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
    int count = recvmmsg(s->fd, s->receive, SLOTS, MSG_DONTWAIT, NULL);
    if (count < 0 && s->connected && errno != EINTR && !would_block(errno)) {
      call_back(s, -errno);
      break;
    }
    if (count <= 0) break; /* EAGAIN: wait for the next wake-up; other errors concern one datagram */
    for (int i = 0; i < count; i++) {
      int length = (int)s->receive[i].msg_len;
      if (s->receive[i].msg_hdr.msg_flags & MSG_TRUNC) {
        /* Longer than any DNS message over UDP may be here: reported as length -1. */
        s->truncated++;
        length = -1;
      } else if (s->connected && !same_address(&s->receive_address[i], &s->peer)) {
        /* The kernel delivers a connected socket only its peer's datagrams; checked anyway, as -2. */
        length = -2;
      }
      write_meta(s->in_meta + META * i, &s->receive_address[i], length);
    }
    s->received += count;
    s->batches++;
    if (!call_back(s, count)) break;
    if (count < SLOTS) break;
  }
  napi_close_handle_scope(env, scope);
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  Socket *s = handle->data;
  if (s->closing) return;
  if (status < 0) {
    /* libuv stops polling on POLLERR, which a connected socket sees once its server refused
     * a query: take the error (clearing it), tell JS and poll on. */
    if (!s->connected) return;
    int error = 0;
    socklen_t length = sizeof error;
    getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &error, &length);
    s->events = 0;
    update_poll(s);
    report_error(s, error != 0 ? error : ECONNREFUSED);
    return;
  }
  if (events & UV_WRITABLE) drain_queue(s);
  if (events & UV_READABLE) receive_batches(s);
}

static void free_queue(Socket *s) {
  while (s->head != NULL) {
    Pending *next = s->head->next;
    free(s->head);
    s->head = next;
  }
  s->tail = NULL;
  s->queued = 0;
}

static void on_handle_closed(uv_handle_t *handle) {
  Socket *s = handle->data;
  close(s->fd);
  free_queue(s);
  s->handle_closed = 1;
  if (s->free_on_close) free(s);
}

static void release_references(Socket *s, napi_env env, int destroy_context) {
  if (s->on_batch == NULL) return;
  napi_delete_reference(env, s->on_batch);
  for (int i = 0; i < 4; i++) napi_delete_reference(env, s->buffers[i]);
  if (destroy_context) napi_async_destroy(env, s->context);
  s->on_batch = NULL;
}

static void start_close(Socket *s) {
  if (s->closing) return;
  s->closing = 1;
  uv_poll_stop(&s->poll);
  uv_close((uv_handle_t *)&s->poll, on_handle_closed);
}

static Socket *socket_of(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  void *data = NULL;
  napi_get_cb_info(env, info, argc, argv, NULL, &data);
  return data;
}

static napi_value number(napi_env env, double value) {
  napi_value result;
  napi_create_double(env, value, &result);
  return result;
}

/* flush(count): sends reply slots 0..count-1 (a slot of length < 0 is skipped). */
static napi_value Flush(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  Socket *s = socket_of(env, info, &argc, argv);
  int32_t count = 0;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &count) != napi_ok) return NULL;
  if (s->closing || count <= 0) return NULL;
  if (count > SLOTS) count = SLOTS;
  int ready = 0;
  for (int i = 0; i < count; i++) {
    const int32_t *meta = s->out_meta + META * i;
    if (meta[0] < 0 || meta[0] > SLOT_BYTES) continue;
    s->send_iov[ready].iov_base = s->out + (size_t)i * SLOT_BYTES;
    s->send_iov[ready].iov_len = (size_t)meta[0];
    read_meta(meta, s->family, &s->send_address[ready]);
    s->send[ready].msg_hdr.msg_namelen = address_length(s->family);
    ready++;
  }
  int done = 0;
  if (s->queued == 0) {
    while (done < ready) {
      int sent = sendmmsg(s->fd, s->send + done, ready - done, MSG_DONTWAIT);
      if (sent > 0) {
        done += sent;
        s->sent += sent;
        continue;
      }
      if (sent < 0 && errno == EINTR) continue;
      if (sent < 0 && !would_block(errno)) {
        /* The first datagram was refused (e.g. an unreachable peer): skip it, send the rest. */
        s->dropped++;
        done++;
        continue;
      }
      break;
    }
  }
  for (int i = done; i < ready; i++) enqueue(s, s->send_iov[i].iov_base, s->send_iov[i].iov_len, &s->send_address[i]);
  return NULL;
}

/* sendTo(bytes, port, address): one reply outside a batch (an answer that took a while). */
static napi_value SendTo(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  Socket *s = socket_of(env, info, &argc, argv);
  if (argc < 3 || s->closing) return NULL;
  void *data;
  size_t length;
  int32_t port;
  char text[64];
  size_t text_length;
  if (napi_get_buffer_info(env, argv[0], &data, &length) != napi_ok || napi_get_value_int32(env, argv[1], &port) != napi_ok ||
      napi_get_value_string_utf8(env, argv[2], text, sizeof text, &text_length) != napi_ok) {
    napi_throw_type_error(env, NULL, "sendTo(buffer, port, address)");
    return NULL;
  }
  struct sockaddr_storage address;
  if (!parse_address(s->family, text, port, &address)) {
    napi_throw_type_error(env, NULL, "sendTo: not an address of the socket's family");
    return NULL;
  }
  send_one(s, data, length, &address);
  return NULL;
}

/* send(bytes) -> 0, or the errno that refused it: one datagram to a connected socket's peer. */
static napi_value Send(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  Socket *s = socket_of(env, info, &argc, argv);
  void *data;
  size_t length;
  if (argc < 1 || !s->connected || napi_get_buffer_info(env, argv[0], &data, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "send(buffer) on a socket opened with a peer");
    return NULL;
  }
  int error = s->closing ? 0 : send_one(s, data, length, &s->peer);
  napi_value result;
  napi_create_int32(env, error, &result);
  return result;
}

/* pause(): stops reading (a drain); replies still go out. */
static napi_value Pause(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Socket *s = socket_of(env, info, &argc, NULL);
  s->reading = 0;
  update_poll(s);
  return NULL;
}

static napi_value Close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Socket *s = socket_of(env, info, &argc, NULL);
  release_references(s, env, 1);
  start_close(s);
  return NULL;
}

static napi_value Stats(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Socket *s = socket_of(env, info, &argc, NULL);
  napi_value result;
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "received", number(env, s->received));
  napi_set_named_property(env, result, "batches", number(env, s->batches));
  napi_set_named_property(env, result, "truncated", number(env, s->truncated));
  napi_set_named_property(env, result, "sent", number(env, s->sent));
  napi_set_named_property(env, result, "dropped", number(env, s->dropped));
  napi_set_named_property(env, result, "queued", number(env, s->queued));
  return result;
}

/*
 * The JS object went away: close the socket if close() was never called. Only at teardown
 * can that be (the callback reference keeps it alive otherwise), when no async hook may run.
 */
static void finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  Socket *s = data;
  release_references(s, env, 0);
  if (s->handle_closed) free(s);
  else {
    s->free_on_close = 1;
    start_close(s);
  }
}

static void *bytes_of(napi_env env, napi_value value, size_t needed) {
  bool is_typed_array = false;
  void *data = NULL;
  size_t length = 0;
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  if (napi_is_typedarray(env, value, &is_typed_array) != napi_ok || !is_typed_array) return NULL;
  if (napi_get_typedarray_info(env, value, &type, &length, &data, &buffer, &offset) != napi_ok) return NULL;
  size_t element = type == napi_int32_array ? 4 : type == napi_uint8_array ? 1 : 0;
  return element != 0 && length * element >= needed ? data : NULL;
}

/* options.peer and options.peerPort, when peer is given; false (with an exception pending) when they are not an address and port. */
static int read_peer(napi_env env, napi_value options, int family, struct sockaddr_storage *peer, int *connected) {
  memset(peer, 0, sizeof *peer);
  *connected = 0;
  bool has = false;
  napi_has_named_property(env, options, "peer", &has);
  if (!has) return 1;
  char text[64];
  size_t text_length = 0;
  napi_value value;
  int32_t port = int_property(env, options, "peerPort");
  if (napi_get_named_property(env, options, "peer", &value) != napi_ok ||
      napi_get_value_string_utf8(env, value, text, sizeof text, &text_length) != napi_ok || port <= 0 || port > 65535 ||
      !parse_address(family, text, port, peer)) {
    napi_throw_type_error(env, NULL, "open: options.peer must be an address of options.family and options.peerPort a port");
    return 0;
  }
  *connected = 1;
  return 1;
}

/*
 * Hands each query to socket (ID mod `sockets`) of the port's SO_REUSEPORT group, so the
 * workers share the load query by query. The kernel's default spreads by a hash of the
 * peers' addresses and ports: a VPN gateway or NAT asking for many phones from a few ports
 * would load one worker and idle the others. A reuseport program sees the datagram from
 * its UDP payload on, so offset 0 is the DNS ID. An index beyond the group (a worker being
 * replaced) and a datagram too short to hold an ID fall back to the kernel's hash or to
 * socket 0, both harmless: the workers share one cache.
 */
static void spread_by_query_id(int fd, int sockets) {
  struct sock_filter code[] = {
    BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 0),
    BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, (uint32_t)sockets),
    BPF_STMT(BPF_RET | BPF_A, 0),
  };
  struct sock_fprog program = { .len = sizeof code / sizeof code[0], .filter = code };
  setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &program, sizeof program);
}

/*
 * open({ address, port, family, bufferBytes, reusePort, spread, peer?, peerPort? }, in, inMeta, out, outMeta, onBatch)
 *   -> { port, flush, sendTo, send, pause, close, stats }
 * peer (an address of the family) and peerPort: connect(2) the socket to that server; its
 * datagrams then come to onBatch (count < 0 is -errno: the server refused a query) and
 * send() sends to it. Sockets may share the buffers: each batch is handed over before the
 * next receive call.
 * reusePort (SO_REUSEPORT, reusePort: 1) lets every worker process bind a socket of its own;
 * the caller makes sure beforehand that no other process holds the port. spread (> 1, with
 * reusePort): the number of sockets the group will hold, spread over by query ID.
 */
static napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 6) {
    napi_throw_type_error(env, NULL, "open(options, in, inMeta, out, outMeta, onBatch)");
    return NULL;
  }
  int family;
  struct sockaddr_storage bind_address;
  if (!read_bind_address(env, argv[0], "open", &family, &bind_address)) return NULL;
  int32_t buffer_bytes = int_property(env, argv[0], "bufferBytes");
  int32_t reuse_port = int_property(env, argv[0], "reusePort");
  int32_t spread = int_property(env, argv[0], "spread");
  unsigned char *in = bytes_of(env, argv[1], SLOTS * SLOT_BYTES);
  int32_t *in_meta = bytes_of(env, argv[2], SLOTS * META * 4);
  unsigned char *out = bytes_of(env, argv[3], SLOTS * SLOT_BYTES);
  int32_t *out_meta = bytes_of(env, argv[4], SLOTS * META * 4);
  napi_valuetype callback_type;
  napi_typeof(env, argv[5], &callback_type);
  if (in == NULL || in_meta == NULL || out == NULL || out_meta == NULL || callback_type != napi_function) {
    napi_throw_type_error(env, NULL, "open: buffers too small or onBatch not a function");
    return NULL;
  }

  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_errno(env, "socket", errno);
    return NULL;
  }
  int one = 1;
  if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (buffer_bytes > 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof buffer_bytes);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer_bytes, sizeof buffer_bytes);
  }
  /* Replies ignore path MTU information: sent without DF and fragmented only beyond the
   * interface's MTU, so a forged ICMP "fragmentation needed" cannot make them fragment,
   * which fragment-based poisoning of the client's stub relies on (Unbound, Knot and BIND
   * do the same). */
  int omit = family == AF_INET6 ? IPV6_PMTUDISC_OMIT : IP_PMTUDISC_OMIT;
  if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &omit, sizeof omit);
  else setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &omit, sizeof omit);
  int bound_port = bind_socket(env, fd, family, &bind_address);
  if (bound_port < 0) return NULL;
  if (reuse_port && spread > 1) spread_by_query_id(fd, spread);
  struct sockaddr_storage peer;
  int connected = 0;
  if (!read_peer(env, argv[0], family, &peer, &connected)) {
    close(fd);
    return NULL;
  }
  if (connected && connect(fd, (const struct sockaddr *)&peer, address_length(family)) < 0) {
    int error = errno;
    close(fd);
    throw_errno(env, "connect", error);
    return NULL;
  }

  Socket *s = calloc(1, sizeof(Socket));
  if (s == NULL) {
    close(fd);
    napi_throw_error(env, NULL, "open: out of memory");
    return NULL;
  }
  s->fd = fd;
  s->family = family;
  s->connected = connected;
  s->peer = peer;
  s->env = env;
  s->in = in;
  s->in_meta = in_meta;
  s->out = out;
  s->out_meta = out_meta;
  for (int i = 0; i < 4; i++) napi_create_reference(env, argv[i + 1], 1, &s->buffers[i]);
  napi_create_reference(env, argv[5], 1, &s->on_batch);
  napi_value name;
  napi_create_string_utf8(env, "wachtpost:udp-batch", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &s->context);
  for (int i = 0; i < SLOTS; i++) {
    s->receive_iov[i].iov_base = in + (size_t)i * SLOT_BYTES;
    s->receive_iov[i].iov_len = SLOT_BYTES;
    s->receive[i].msg_hdr.msg_iov = &s->receive_iov[i];
    s->receive[i].msg_hdr.msg_iovlen = 1;
    s->receive[i].msg_hdr.msg_name = &s->receive_address[i];
    s->send[i].msg_hdr.msg_iov = &s->send_iov[i];
    s->send[i].msg_hdr.msg_iovlen = 1;
    s->send[i].msg_hdr.msg_name = &s->send_address[i];
  }

  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  if (uv_poll_init(loop, &s->poll, fd) != 0) {
    release_references(s, env, 1);
    close(fd);
    free(s);
    napi_throw_error(env, NULL, "open: uv_poll_init failed");
    return NULL;
  }
  s->poll.data = s;
  s->reading = 1;
  update_poll(s);
  /* Upstream sockets wait on answers only while queries are out: alone they keep no process alive. */
  if (connected) uv_unref((uv_handle_t *)&s->poll);

  napi_value result, function;
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "port", number(env, bound_port));
  napi_create_function(env, "flush", NAPI_AUTO_LENGTH, Flush, s, &function);
  napi_set_named_property(env, result, "flush", function);
  napi_create_function(env, "sendTo", NAPI_AUTO_LENGTH, SendTo, s, &function);
  napi_set_named_property(env, result, "sendTo", function);
  napi_create_function(env, "send", NAPI_AUTO_LENGTH, Send, s, &function);
  napi_set_named_property(env, result, "send", function);
  napi_create_function(env, "pause", NAPI_AUTO_LENGTH, Pause, s, &function);
  napi_set_named_property(env, result, "pause", function);
  napi_create_function(env, "close", NAPI_AUTO_LENGTH, Close, s, &function);
  napi_set_named_property(env, result, "close", function);
  napi_create_function(env, "stats", NAPI_AUTO_LENGTH, Stats, s, &function);
  napi_set_named_property(env, result, "stats", function);
  napi_add_finalizer(env, result, s, finalize, NULL, NULL);
  return result;
}
#endif

NAPI_MODULE_INIT() {
#ifdef __linux__
  napi_value constants, value;
  napi_create_object(env, &constants);
  napi_create_int32(env, SLOTS, &value);
  napi_set_named_property(env, constants, "slots", value);
  napi_create_int32(env, SLOT_BYTES, &value);
  napi_set_named_property(env, constants, "slotBytes", value);
  napi_create_int32(env, META, &value);
  napi_set_named_property(env, constants, "meta", value);
  napi_set_named_property(env, exports, "constants", constants);
  napi_value open;
  napi_create_function(env, "open", NAPI_AUTO_LENGTH, Open, NULL, &open);
  napi_set_named_property(env, exports, "open", open);
#endif
  register_tcp_listen(env, exports);
  register_shared_memory(env, exports);
  register_heap_trim(env, exports);
  return exports;
}
