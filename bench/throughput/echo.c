/*
 * Reference target: batched UDP I/O from C, with no Node and no DNS work beside it.
 * PROCESSES processes bind 127.0.0.1:PORT side by side (SO_REUSEPORT); each waits in poll(),
 * takes up to 64 queries with one recvmmsg(), sets QR in each and sends them back with one
 * sendmmsg(). The throughput harness compiles it with cc.
 * Usage: echo PORT PROCESSES
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define BATCH 64
#define SLOT 1500
#define BUFFER_BYTES (4 << 20)

static char slots[BATCH][SLOT];
static struct sockaddr_in peers[BATCH];
static struct iovec vectors[BATCH];
static struct mmsghdr messages[BATCH];

static void serve(int port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1, size = BUFFER_BYTES;
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) < 0 || setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size) < 0 ||
      bind(fd, (struct sockaddr *)&address, sizeof address) < 0) {
    perror("echo");
    exit(1);
  }
  struct pollfd readable = {.fd = fd, .events = POLLIN};
  for (;;) {
    for (int i = 0; i < BATCH; i++) {
      vectors[i] = (struct iovec){.iov_base = slots[i], .iov_len = SLOT};
      messages[i].msg_hdr = (struct msghdr){.msg_name = &peers[i], .msg_namelen = sizeof peers[i], .msg_iov = &vectors[i], .msg_iovlen = 1};
    }
    int count = recvmmsg(fd, messages, BATCH, MSG_DONTWAIT, NULL);
    if (count < 0) {
      if (errno == EAGAIN || errno == EINTR) poll(&readable, 1, -1);
      continue;
    }
    for (int i = 0; i < count; i++) {
      slots[i][2] |= 0x80;
      vectors[i].iov_len = messages[i].msg_len;
    }
    sendmmsg(fd, messages, count, 0);
  }
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: echo PORT PROCESSES\n");
    return 2;
  }
  int port = atoi(argv[1]), processes = atoi(argv[2]);
  /* Blocked before the forks, so SIGTERM always reaches sigwait() here; the children take
     the default action, and die with the parent whatever kills it. */
  sigset_t terminate;
  sigemptyset(&terminate);
  sigaddset(&terminate, SIGTERM);
  sigprocmask(SIG_BLOCK, &terminate, NULL);
  pid_t children[64];
  for (int i = 0; i < processes && i < 64; i++)
    if ((children[i] = fork()) == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      sigprocmask(SIG_UNBLOCK, &terminate, NULL);
      serve(port);
    }
  int signal;
  sigwait(&terminate, &signal);
  for (int i = 0; i < processes && i < 64; i++) kill(children[i], SIGTERM);
  while (wait(NULL) > 0) {
  }
  return 0;
}
