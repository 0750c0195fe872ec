/* Shared memory for the answer cache: one anonymous file the primary creates and its workers map. */
#ifndef WACHTPOST_SHARED_MEMORY_H
#define WACHTPOST_SHARED_MEMORY_H
#include <node_api.h>

void register_shared_memory(napi_env env, napi_value exports);

#endif
