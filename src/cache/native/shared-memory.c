/*
 * Memory shared by the primary and its workers: anonymous files (memfd, so nothing is left
 * behind in /dev/shm when a process dies) the primary creates and each worker receives at
 * fork and maps. The answer cache is one: JavaScript sees the mapping as external
 * ArrayBuffers and guards it with Atomics, so no call crosses into C on the hit path; only
 * a waiter that spun long enough calls yield(), to let the lock's holder run. Read-only
 * data files (the GeoIP databases) are the other: copied once into a sealed memfd, which
 * no process can change, and mapped read-only.
 */
#define _GNU_SOURCE 1
#include "shared-memory.h"
#include "../../transport/native/socket-common.h"

#ifdef __linux__
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int read_size(napi_env env, napi_value value, const char *what, int64_t *out) {
  double number;
  if (napi_get_value_double(env, value, &number) != napi_ok || number < 0 || number > 9007199254740991.0 || number != (double)(int64_t)number) {
    char message[120];
    snprintf(message, sizeof message, "shared memory: %s must be a whole number of bytes", what);
    napi_throw_type_error(env, NULL, message);
    return 0;
  }
  *out = (int64_t)number;
  return 1;
}

/* create(bytes) -> fd: an anonymous file of `bytes` (sparse: pages cost memory once written). */
static napi_value Create(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int64_t bytes;
  if (argc < 1 || !read_size(env, argv[0], "bytes", &bytes)) return NULL;
  int fd = memfd_create("wachtpost-cache", MFD_CLOEXEC);
  if (fd < 0) {
    throw_errno(env, "memfd_create", errno);
    return NULL;
  }
  if (ftruncate(fd, bytes) != 0) {
    int error = errno;
    close(fd);
    throw_errno(env, "ftruncate", error);
    return NULL;
  }
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

static void unmap(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  (void)hint;
  /* The mapping lives as long as the process: every view of it is made once, at start. */
}

/*
 * map(fd, [length, length, ...]) -> ArrayBuffer[]: maps the whole file once and returns
 * consecutive views of the given lengths. Fails when the file is shorter than their sum.
 */
static napi_value Map(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  uint32_t parts = 0;
  bool is_array = false;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 || napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array) {
    napi_throw_type_error(env, NULL, "shared memory: map(fd, lengths) takes a descriptor and an array of lengths");
    return NULL;
  }
  napi_get_array_length(env, argv[1], &parts);
  int64_t total = 0;
  for (uint32_t i = 0; i < parts; i++) {
    napi_value value;
    int64_t length;
    napi_get_element(env, argv[1], i, &value);
    if (!read_size(env, value, "a length", &length)) return NULL;
    total += length;
  }
  struct stat status;
  if (fstat(fd, &status) != 0) {
    throw_errno(env, "fstat", errno);
    return NULL;
  }
  if (status.st_size < total) {
    napi_throw_error(env, NULL, "shared memory: the file is smaller than the layout asks for");
    return NULL;
  }
  uint8_t *base = mmap(NULL, (size_t)total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  if (base == MAP_FAILED) {
    throw_errno(env, "mmap", errno);
    return NULL;
  }
  napi_value result;
  napi_create_array_with_length(env, parts, &result);
  int64_t at = 0;
  for (uint32_t i = 0; i < parts; i++) {
    napi_value value, buffer;
    int64_t length;
    napi_get_element(env, argv[1], i, &value);
    napi_get_value_int64(env, value, &length);
    if (napi_create_external_arraybuffer(env, base + at, (size_t)length, unmap, NULL, &buffer) != napi_ok) {
      napi_throw_error(env, NULL, "shared memory: this Node.js does not allow external ArrayBuffers");
      return NULL;
    }
    napi_set_element(env, result, i, buffer);
    at += length;
  }
  return result;
}

/* The one argument, a descriptor, and the size of the file it names; 0 after throwing. */
static int file_argument(napi_env env, napi_callback_info info, const char *usage, int *fd, off_t *size) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t value = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &value) != napi_ok || value < 0) {
    napi_throw_type_error(env, NULL, usage);
    return 0;
  }
  struct stat status;
  if (fstat(value, &status) != 0) {
    throw_errno(env, "fstat", errno);
    return 0;
  }
  *fd = value;
  *size = status.st_size;
  return 1;
}

/*
 * sealedCopy(fd) -> fd: a memfd holding the bytes of the open file `fd`, sealed against
 * writing, shrinking and growing, so a mapping of it can never change or lose pages under
 * a reader (a file on disk can be rewritten in place, which would crash whoever maps it).
 */
static napi_value SealedCopy(napi_env env, napi_callback_info info) {
  int in;
  off_t size;
  if (!file_argument(env, info, "shared memory: sealedCopy(fd) takes a descriptor", &in, &size)) return NULL;
  int out = memfd_create("wachtpost-data", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (out < 0) {
    throw_errno(env, "memfd_create", errno);
    return NULL;
  }
  static char chunk[65536];
  off_t at = 0;
  const char *failed = NULL;
  int error = 0;
  while (at < size && failed == NULL) {
    ssize_t got = pread(in, chunk, sizeof chunk, at);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      failed = got < 0 ? "read" : "read (the file shrank while it was copied)";
      error = got < 0 ? errno : EIO;
      break;
    }
    for (ssize_t done = 0; done < got;) {
      ssize_t put = write(out, chunk + done, (size_t)(got - done));
      if (put < 0 && errno == EINTR) continue;
      if (put <= 0) {
        failed = "write";
        error = put < 0 ? errno : EIO;
        break;
      }
      done += put;
    }
    at += got;
  }
  if (failed == NULL && fcntl(out, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
    failed = "fcntl(F_ADD_SEALS)";
    error = errno;
  }
  if (failed != NULL) {
    close(out);
    throw_errno(env, failed, error);
    return NULL;
  }
  napi_value result;
  napi_create_int32(env, out, &result);
  return result;
}

/* mapReadOnly(fd) -> ArrayBuffer: the whole file, mapped read-only (a sealed copy; see above). */
static napi_value MapReadOnly(napi_env env, napi_callback_info info) {
  int fd;
  off_t size;
  if (!file_argument(env, info, "shared memory: mapReadOnly(fd) takes a descriptor", &fd, &size)) return NULL;
  napi_value buffer;
  if (size == 0) {
    napi_create_arraybuffer(env, 0, NULL, &buffer);
    return buffer;
  }
  void *base = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    throw_errno(env, "mmap", errno);
    return NULL;
  }
  if (napi_create_external_arraybuffer(env, base, (size_t)size, unmap, NULL, &buffer) != napi_ok) {
    munmap(base, (size_t)size);
    napi_throw_error(env, NULL, "shared memory: this Node.js does not allow external ArrayBuffers");
    return NULL;
  }
  return buffer;
}

/* yield(): gives the CPU to another runnable process (the lock's holder, with luck). */
static napi_value Yield(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  sched_yield();
  return NULL;
}

void register_shared_memory(napi_env env, napi_value exports) {
  napi_value object, function;
  napi_create_object(env, &object);
  napi_create_function(env, "create", NAPI_AUTO_LENGTH, Create, NULL, &function);
  napi_set_named_property(env, object, "create", function);
  napi_create_function(env, "map", NAPI_AUTO_LENGTH, Map, NULL, &function);
  napi_set_named_property(env, object, "map", function);
  napi_create_function(env, "sealedCopy", NAPI_AUTO_LENGTH, SealedCopy, NULL, &function);
  napi_set_named_property(env, object, "sealedCopy", function);
  napi_create_function(env, "mapReadOnly", NAPI_AUTO_LENGTH, MapReadOnly, NULL, &function);
  napi_set_named_property(env, object, "mapReadOnly", function);
  napi_create_function(env, "yield", NAPI_AUTO_LENGTH, Yield, NULL, &function);
  napi_set_named_property(env, object, "yield", function);
  napi_set_named_property(env, exports, "sharedMemory", object);
}
#else
void register_shared_memory(napi_env env, napi_value exports) {
  (void)env;
  (void)exports;
}
#endif
