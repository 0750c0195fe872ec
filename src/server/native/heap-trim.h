/* Hands the C heap's free pages back to the kernel (glibc's malloc_trim). */
#ifndef WACHTPOST_HEAP_TRIM_H
#define WACHTPOST_HEAP_TRIM_H
#include <node_api.h>

void register_heap_trim(napi_env env, napi_value exports);

#endif
