/* See socket-common.h. */
#define _GNU_SOURCE 1
#include "socket-common.h"

#ifdef __linux__
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void throw_errno(napi_env env, const char *what, int error) {
  char message[160];
  snprintf(message, sizeof message, "%s: %s", what, strerror(error));
  napi_throw_error(env, NULL, message);
}

socklen_t address_length(int family) {
  return family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

int parse_address(int family, const char *text, int port, struct sockaddr_storage *address) {
  memset(address, 0, sizeof *address);
  if (family == AF_INET6) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)address;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    return inet_pton(AF_INET6, text, &in6->sin6_addr) == 1;
  }
  struct sockaddr_in *in4 = (struct sockaddr_in *)address;
  in4->sin_family = AF_INET;
  in4->sin_port = htons((uint16_t)port);
  return inet_pton(AF_INET, text, &in4->sin_addr) == 1;
}

int32_t int_property(napi_env env, napi_value object, const char *name) {
  napi_value value;
  int32_t result = 0;
  if (napi_get_named_property(env, object, name, &value) == napi_ok) napi_get_value_int32(env, value, &result);
  return result;
}

static int fail(napi_env env, const char *caller, const char *problem) {
  char message[160];
  snprintf(message, sizeof message, "%s: %s", caller, problem);
  napi_throw_type_error(env, NULL, message);
  return 0;
}

int read_bind_address(napi_env env, napi_value options, const char *caller, int *family, struct sockaddr_storage *address) {
  *family = int_property(env, options, "family") == 6 ? AF_INET6 : AF_INET;
  int32_t port = int_property(env, options, "port");
  char host[64];
  size_t host_length = 0;
  napi_value host_value;
  if (napi_get_named_property(env, options, "address", &host_value) != napi_ok ||
      napi_get_value_string_utf8(env, host_value, host, sizeof host, &host_length) != napi_ok) {
    return fail(env, caller, "options.address must be a string");
  }
  if (port < 0 || port > 65535) return fail(env, caller, "options.port must be 0-65535");
  if (!parse_address(*family, host, port, address)) return fail(env, caller, "options.address is not an address of options.family");
  return 1;
}

int bind_socket(napi_env env, int fd, int family, const struct sockaddr_storage *address) {
  if (bind(fd, (const struct sockaddr *)address, address_length(family)) < 0) {
    int error = errno;
    close(fd);
    throw_errno(env, "bind", error);
    return -1;
  }
  struct sockaddr_storage bound;
  socklen_t bound_length = sizeof bound;
  getsockname(fd, (struct sockaddr *)&bound, &bound_length);
  return family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port) : ntohs(((struct sockaddr_in *)&bound)->sin_port);
}
#endif
