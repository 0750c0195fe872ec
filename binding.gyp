{
  "targets": [
    {
      "target_name": "udp_batch",
      "sources": ["src/transport/native/udp-batch.c", "src/transport/native/tcp-listen.c", "src/transport/native/socket-common.c", "src/cache/native/shared-memory.c", "src/server/native/heap-trim.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
