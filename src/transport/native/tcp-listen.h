/* The TCP half of the addon (tcp-listen.c), registered by the module's init in udp-batch.c. */
#ifndef WACHTPOST_TCP_LISTEN_H
#define WACHTPOST_TCP_LISTEN_H
#include <node_api.h>

void register_tcp_listen(napi_env env, napi_value exports);

#endif
