{
  "targets": [
    {
      "target_name": "udp_batch",
      "sources": ["src/transport/native/udp-batch.c", "src/transport/native/tcp-listen.c", "src/transport/native/socket-common.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
