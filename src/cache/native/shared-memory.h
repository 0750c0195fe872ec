/* Memory the primary shares with its workers: anonymous files it creates and they map (the answer cache, sealed copies of data files). */
#ifndef WACHTPOST_SHARED_MEMORY_H
#define WACHTPOST_SHARED_MEMORY_H
#include <node_api.h>

void register_shared_memory(napi_env env, napi_value exports);

#endif
