{
  "targets": [
    {
      "target_name": "udp_batch",
      "sources": ["src/transport/native/udp-batch.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
