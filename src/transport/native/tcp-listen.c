/*
 * A TCP listening socket that each worker opens for itself with SO_REUSEPORT, accepting in
 * C and handing each accepted descriptor to JS, which wraps it in a net.Socket or refuses
 * it. Node 20's net.Server cannot do this in a cluster worker: every listen there goes
 * through the primary, which accepts every connection and passes it over IPC, and a
 * worker at its connection cap hands it back, so connections beyond every worker's cap
 * circle between the primary and the workers (CLOSE-WAIT piling up, the primary busy).
 * With a socket per worker the kernel spreads connections over the workers, and a
 * connection is refused by the worker it lands on, at once.
 *
 * A refused connection is closed with SO_LINGER 0 (a reset), so an attacker's flood
 * leaves no TIME_WAIT behind. Linux only, like the UDP half of the addon.
 */
#define _GNU_SOURCE 1
#include <node_api.h>

#include "socket-common.h"
#include "tcp-listen.h"

#ifdef __linux__
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

/* At most this many accepts per wake-up, so a connection flood cannot starve the loop. */
#define ACCEPTS_PER_WAKEUP 64
/* Out of descriptors: stop accepting this long, instead of spinning on a queue we cannot take. */
#define EMFILE_PAUSE_MS 100

typedef struct {
  int fd;
  int closing;
  int handles_open;
  int free_on_close;
  uv_poll_t poll;
  uv_timer_t retry;
  napi_env env;
  napi_ref on_accept;
  napi_async_context context;
  double accepted, refused, failures;
} Listener;

static void on_readable(uv_poll_t *handle, int status, int events);

static void start_polling(Listener *l) {
  if (!l->closing) uv_poll_start(&l->poll, UV_READABLE, on_readable);
}

static void on_retry(uv_timer_t *timer) {
  start_polling(timer->data);
}

static void refuse(int fd) {
  struct linger reset = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  close(fd);
}

/* Calls onAccept(fd, address, port); true when JS took the descriptor. */
static int offer(Listener *l, int fd, const struct sockaddr_storage *peer) {
  napi_env env = l->env;
  char text[INET6_ADDRSTRLEN] = "";
  int port = 0;
  if (peer->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)peer;
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    port = ntohs(in6->sin6_port);
  } else {
    const struct sockaddr_in *in4 = (const struct sockaddr_in *)peer;
    inet_ntop(AF_INET, &in4->sin_addr, text, sizeof text);
    port = ntohs(in4->sin_port);
  }
  napi_value callback, receiver, argv[3], result;
  napi_get_reference_value(env, l->on_accept, &callback);
  napi_get_global(env, &receiver);
  napi_create_int32(env, fd, &argv[0]);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &argv[1]);
  napi_create_int32(env, port, &argv[2]);
  if (napi_make_callback(env, l->context, receiver, callback, 3, argv, &result) == napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
    return 0;
  }
  bool taken = false;
  napi_get_value_bool(env, result, &taken);
  return taken;
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  Listener *l = handle->data;
  if (status < 0 || l->closing) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(l->env, &scope) != napi_ok) return;
  for (int i = 0; i < ACCEPTS_PER_WAKEUP && !l->closing; i++) {
    struct sockaddr_storage peer;
    socklen_t length = sizeof peer;
    int fd = accept4(l->fd, (struct sockaddr *)&peer, &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        l->failures++;
        uv_poll_stop(&l->poll);
        uv_timer_start(&l->retry, on_retry, EMFILE_PAUSE_MS, 0);
      }
      break; /* EAGAIN: nothing left to accept */
    }
    l->accepted++;
    if (!offer(l, fd, &peer)) {
      l->refused++;
      refuse(fd);
    }
  }
  napi_close_handle_scope(l->env, scope);
}

static void on_handle_closed(uv_handle_t *handle) {
  Listener *l = handle->data;
  if (--l->handles_open > 0) return;
  close(l->fd);
  if (l->free_on_close) free(l);
}

static void release(Listener *l, napi_env env, int destroy_context) {
  if (l->on_accept == NULL) return;
  napi_delete_reference(env, l->on_accept);
  if (destroy_context) napi_async_destroy(env, l->context);
  l->on_accept = NULL;
}

static void start_close(Listener *l) {
  if (l->closing) return;
  l->closing = 1;
  uv_poll_stop(&l->poll);
  uv_timer_stop(&l->retry);
  uv_close((uv_handle_t *)&l->poll, on_handle_closed);
  uv_close((uv_handle_t *)&l->retry, on_handle_closed);
}

static Listener *listener_of(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  void *data = NULL;
  napi_get_cb_info(env, info, &argc, NULL, NULL, &data);
  return data;
}

/* close(): stops listening; the kernel refuses new connections (queued ones are reset). */
static napi_value Close(napi_env env, napi_callback_info info) {
  Listener *l = listener_of(env, info);
  release(l, env, 1);
  start_close(l);
  return NULL;
}

static napi_value Stats(napi_env env, napi_callback_info info) {
  Listener *l = listener_of(env, info);
  napi_value result, value;
  napi_create_object(env, &result);
  napi_create_double(env, l->accepted, &value);
  napi_set_named_property(env, result, "accepted", value);
  napi_create_double(env, l->refused, &value);
  napi_set_named_property(env, result, "refused", value);
  napi_create_double(env, l->failures, &value);
  napi_set_named_property(env, result, "failures", value);
  return result;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  Listener *l = data;
  release(l, env, 0);
  if (l->closing && l->handles_open == 0) free(l);
  else {
    l->free_on_close = 1;
    start_close(l);
  }
}

/*
 * listenTcp({ address, port, family, backlog, reusePort }, onAccept(fd, address, port) -> bool)
 *   -> { port, close, stats }
 * onAccept returns true when it took the descriptor (and must close it), false to refuse it.
 */
static napi_value ListenTcp(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype callback_type = napi_undefined;
  if (argc == 2) napi_typeof(env, argv[1], &callback_type);
  if (argc < 2 || callback_type != napi_function) {
    napi_throw_type_error(env, NULL, "listenTcp(options, onAccept)");
    return NULL;
  }
  int family;
  struct sockaddr_storage address;
  if (!read_bind_address(env, argv[0], "listenTcp", &family, &address)) return NULL;
  int32_t backlog = int_property(env, argv[0], "backlog");
  int32_t reuse_port = int_property(env, argv[0], "reusePort");

  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_errno(env, "socket", errno);
    return NULL;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  int bound_port = bind_socket(env, fd, family, &address);
  if (bound_port < 0) return NULL;
  if (listen(fd, backlog > 0 ? backlog : 511) < 0) {
    int error = errno;
    close(fd);
    throw_errno(env, "listen", error);
    return NULL;
  }

  Listener *l = calloc(1, sizeof(Listener));
  if (l == NULL) {
    close(fd);
    napi_throw_error(env, NULL, "listenTcp: out of memory");
    return NULL;
  }
  l->fd = fd;
  l->env = env;
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  if (uv_poll_init(loop, &l->poll, fd) != 0 || uv_timer_init(loop, &l->retry) != 0) {
    close(fd);
    free(l);
    napi_throw_error(env, NULL, "listenTcp: libuv handles could not be set up");
    return NULL;
  }
  l->handles_open = 2;
  l->poll.data = l;
  l->retry.data = l;
  uv_unref((uv_handle_t *)&l->retry);
  napi_create_reference(env, argv[1], 1, &l->on_accept);
  napi_value name;
  napi_create_string_utf8(env, "wachtpost:tcp-listen", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &l->context);
  start_polling(l);

  napi_value result, value;
  napi_create_object(env, &result);
  napi_create_int32(env, bound_port, &value);
  napi_set_named_property(env, result, "port", value);
  napi_create_function(env, "close", NAPI_AUTO_LENGTH, Close, l, &value);
  napi_set_named_property(env, result, "close", value);
  napi_create_function(env, "stats", NAPI_AUTO_LENGTH, Stats, l, &value);
  napi_set_named_property(env, result, "stats", value);
  napi_add_finalizer(env, result, l, finalize, NULL, NULL);
  return result;
}

void register_tcp_listen(napi_env env, napi_value exports) {
  napi_value function;
  napi_create_function(env, "listenTcp", NAPI_AUTO_LENGTH, ListenTcp, NULL, &function);
  napi_set_named_property(env, exports, "listenTcp", function);
}
#else
void register_tcp_listen(napi_env env, napi_value exports) {
  (void)env;
  (void)exports;
}
#endif
