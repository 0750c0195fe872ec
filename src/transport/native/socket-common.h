/* What the addon's UDP and TCP sockets share: reading their options from JS, binding, errors. */
#ifndef WACHTPOST_SOCKET_COMMON_H
#define WACHTPOST_SOCKET_COMMON_H
#include <node_api.h>

#ifdef __linux__
#include <sys/socket.h>

/* Throws "what: strerror(error)". */
void throw_errno(napi_env env, const char *what, int error);
socklen_t address_length(int family);
/* Fills `address` from an IP literal of `family`; 0 when `text` is not one. */
int parse_address(int family, const char *text, int port, struct sockaddr_storage *address);
/* An integer property of a JS object, 0 when missing. */
int32_t int_property(napi_env env, napi_value object, const char *name);
/*
 * Reads { address, port, family } of `options` into `family` and `address`; on a missing
 * or unusable value throws a TypeError starting with `caller` and returns 0.
 */
int read_bind_address(napi_env env, napi_value options, const char *caller, int *family, struct sockaddr_storage *address);
/* Binds `fd`; returns the port bound, or -1 after closing `fd` and throwing. */
int bind_socket(napi_env env, int fd, int family, const struct sockaddr_storage *address);
#endif

#endif
