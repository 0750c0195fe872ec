/*
 * glibc gives freed memory back to the kernel only from the top of each heap, so a burst of
 * queries leaves the C heap (Buffers' backing stores, libuv's send requests) at its peak
 * size for as long as one live block sits above the freed ones: 20 to 30 MiB per worker
 * after a million misses. malloc_trim(0) also releases the whole free pages inside the
 * heaps. Other C libraries have no such call; there the addon offers nothing.
 */
#include "heap-trim.h"
#include <stdlib.h> /* defines __GLIBC__ where glibc is the C library */

#ifdef __GLIBC__
#include <malloc.h>

/* trim() -> whether any memory went back to the kernel. */
static napi_value Trim(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value released;
  napi_get_boolean(env, malloc_trim(0) == 1, &released);
  return released;
}

void register_heap_trim(napi_env env, napi_value exports) {
  napi_value function;
  napi_create_function(env, "trimHeap", NAPI_AUTO_LENGTH, Trim, NULL, &function);
  napi_set_named_property(env, exports, "trimHeap", function);
}
#else
void register_heap_trim(napi_env env, napi_value exports) {
  (void)env;
  (void)exports;
}
#endif
