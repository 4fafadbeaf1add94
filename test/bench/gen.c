// NetProbes benchmark load generator. Loopback only (127.0.0.1), every mode bounded in seconds.
// Built by the benchmark at run time (gcc -O2). Prints `key=value` lines on stdout at the end.
//
//   gen udp PORT RATE SECONDS [SIZE]     64-byte (SIZE) UDP datagrams with sendmmsg, paced by the clock (RATE 0 = as fast as possible)
//   gen sendto PORT RATE SECONDS         one sendto() per datagram, paced (for socket-trace: calls made)
//   gen recv PORT SECONDS                drained UDP receiver (recvmmsg), until SECONDS or SIGTERM/SIGINT
//   gen accept PORT SECONDS [drain]      TCP listener: accept4 and close (drain: read to EOF first, in a poll loop)
//   gen connect PORT RATE SECONDS        paced connect() + close with RST (SO_LINGER 0: no TIME_WAIT pile-up)
//   gen bulk PORT SECONDS                one TCP connection, 64 KiB writes as fast as possible
//   gen churn tcp|udp PORT PROCS_PER_S CONNS_PER_PROC SECONDS
//                                        short-lived processes, each making CONNS short connections
//                                        (tcp: connect, 64-byte request, wait for the server's close; udp:
//                                        new socket, 4 datagrams, close) then exiting; prints `child=PID` lines
//   gen echo tcp|udp PORT SECONDS        the churn's server (tcp: read request, close; udp: drain)
//   gen conns PORT TOTAL WORKERS RATE SECONDS
//                                        TOTAL short-lived TCP connections (connect, 16-byte request, close) from
//                                        WORKERS long-lived processes sharing one pace (RATE 0 = as fast as they
//                                        can), against `gen echo tcp`; prints `worker=PID` lines, then
//                                        `progress=N` (connections made) every second, then the totals
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
static volatile sig_atomic_t stop_flag = 0;
static void on_sig(int s) { (void)s; stop_flag = 1; }

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void nap_us(long us) {
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
  nanosleep(&ts, NULL);
}

static struct sockaddr_in lo_addr(int port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

// Paced sender: `send_some(n)` sends up to n and returns how many went; pacing by elapsed time.
typedef int (*send_fn)(int fd, int n, struct sockaddr_in *to, int size);

static int send_mmsg(int fd, int n, struct sockaddr_in *to, int size) {
  static struct mmsghdr msgs[BATCH];
  static struct iovec iov[BATCH];
  static char payload[65536];
  static int ready = 0;
  for (int i = ready ? n : 0; i < BATCH; i++) {
    iov[i].iov_base = payload;
    iov[i].iov_len = size;
    memset(&msgs[i], 0, sizeof msgs[i]);
    msgs[i].msg_hdr.msg_name = to;
    msgs[i].msg_hdr.msg_namelen = sizeof *to;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  ready = 1;
  return sendmmsg(fd, msgs, n, 0);
}

static int send_one(int fd, int n, struct sockaddr_in *to, int size) {
  (void)n;
  static char payload[65536];
  return sendto(fd, payload, size, 0, (struct sockaddr *)to, sizeof *to) >= 0 ? 1 : -1;
}

static int flood(int port, double rate, double seconds, int size, send_fn fn, int maxBatch) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) die("socket");
  int sndbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  struct sockaddr_in to = lo_addr(port);
  unsigned long long sent = 0, errors = 0;
  double start = now_s(), end = start + seconds, t;
  while ((t = now_s()) < end && !stop_flag) {
    long long want = rate > 0 ? (long long)(rate * (t - start)) - (long long)sent : maxBatch;
    if (want <= 0) {
      nap_us(50);
      continue;
    }
    if (want > maxBatch) want = maxBatch;
    int r = fn(fd, (int)want, &to, size);
    if (r > 0) sent += r;
    else errors++;
  }
  double took = now_s() - start;
  printf("sent=%llu\nerrors=%llu\nseconds=%.6f\nrate=%.0f\n", sent, errors, took, sent / took);
  return 0;
}

static int recv_mode(int port, double seconds) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) die("socket");
  int rcvbuf = 64 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
  struct sockaddr_in a = lo_addr(port);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
  printf("ready\n");
  fflush(stdout);
  static char bufs[BATCH][2048];
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = bufs[i];
    iov[i].iov_len = sizeof bufs[i];
    memset(&msgs[i], 0, sizeof msgs[i]);
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  unsigned long long got = 0;
  double end = now_s() + seconds;
  struct pollfd p = {fd, POLLIN, 0};
  while (!stop_flag && now_s() < end) {
    if (poll(&p, 1, 100) <= 0) continue;
    int r = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
    if (r > 0) got += r;
  }
  printf("received=%llu\n", got);
  return 0;
}

static int listen_on(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = lo_addr(port);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
  if (listen(fd, 4096) < 0) die("listen");
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

static int accept_mode(int port, double seconds, int drain) {
  int fd = listen_on(port);
  printf("ready\n");
  fflush(stdout);
  unsigned long long accepted = 0, bytes = 0;
  double end = now_s() + seconds;
  struct pollfd p = {fd, POLLIN, 0};
  static char buf[1 << 16];
  while (!stop_flag && now_s() < end) {
    if (poll(&p, 1, 100) <= 0) continue;
    for (;;) {
      int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK);
      if (c < 0) break;
      accepted++;
      if (drain) {
        int fl = fcntl(c, F_GETFL);
        fcntl(c, F_SETFL, fl & ~O_NONBLOCK);
        struct timeval tv = {0, 200000};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ssize_t r;
        while (!stop_flag && now_s() < end && ((r = read(c, buf, sizeof buf)) > 0 || (r < 0 && errno == EAGAIN))) if (r > 0) bytes += r;
      }
      close(c);
    }
  }
  printf("accepted=%llu\nbytes=%llu\n", accepted, bytes);
  return 0;
}

static int connect_mode(int port, double rate, double seconds) {
  struct sockaddr_in to = lo_addr(port);
  unsigned long long made = 0, failed = 0;
  struct linger lg = {1, 0};
  double start = now_s(), end = start + seconds, t;
  while ((t = now_s()) < end && !stop_flag) {
    if (rate > 0 && (double)made + failed >= rate * (t - start)) {
      nap_us(50);
      continue;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    if (connect(fd, (struct sockaddr *)&to, sizeof to) == 0) made++;
    else failed++;
    close(fd);
  }
  double took = now_s() - start;
  printf("connected=%llu\nfailed=%llu\nseconds=%.6f\nrate=%.0f\n", made, failed, took, made / took);
  return 0;
}

static int bulk_mode(int port, double seconds) {
  struct sockaddr_in to = lo_addr(port);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&to, sizeof to) < 0) die("connect");
  static char buf[1 << 16];
  unsigned long long bytes = 0;
  double start = now_s(), end = start + seconds;
  while (now_s() < end && !stop_flag) {
    ssize_t w = write(fd, buf, sizeof buf);
    if (w <= 0) break;
    bytes += w;
  }
  close(fd);
  double took = now_s() - start;
  printf("bytes=%llu\nseconds=%.6f\nMBps=%.1f\n", bytes, took, bytes / took / 1e6);
  return 0;
}

static void churn_child(int tcp, int port, int conns) {
  struct sockaddr_in to = lo_addr(port);
  char req[64] = {0}, buf[256];
  for (int i = 0; i < conns; i++) {
    int fd = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
    if (fd < 0) _exit(1);
    if (tcp) {
      if (connect(fd, (struct sockaddr *)&to, sizeof to) == 0) {
        if (write(fd, req, sizeof req) > 0)
          while (read(fd, buf, sizeof buf) > 0) {
          }
      }
    } else {
      for (int k = 0; k < 4; k++) sendto(fd, req, sizeof req, 0, (struct sockaddr *)&to, sizeof to);
    }
    close(fd);
  }
  _exit(0);
}

static int churn_mode(int tcp, int port, double procs, int conns, double seconds) {
  unsigned long long started = 0, reaped = 0;
  double start = now_s(), end = start + seconds, t;
  while ((t = now_s()) < end && !stop_flag) {
    while (waitpid(-1, NULL, WNOHANG) > 0) reaped++;
    if ((double)started >= procs * (t - start)) {
      nap_us(200);
      continue;
    }
    pid_t p = fork();
    if (p == 0) churn_child(tcp, port, conns);
    if (p > 0) {
      started++;
      printf("child=%d\n", (int)p);
    }
  }
  while (reaped < started && waitpid(-1, NULL, 0) > 0) reaped++;
  double took = now_s() - start;
  printf("processes=%llu\nconnections=%llu\nseconds=%.6f\n", started, started * conns, took);
  return 0;
}

static int echo_mode(int tcp, int port, double seconds) {
  if (!tcp) return recv_mode(port, seconds);
  int fd = listen_on(port);
  printf("ready\n");
  fflush(stdout);
  unsigned long long served = 0;
  double end = now_s() + seconds;
  struct pollfd p = {fd, POLLIN, 0};
  char buf[256];
  while (!stop_flag && now_s() < end) {
    if (poll(&p, 1, 100) <= 0) continue;
    for (;;) {
      int c = accept4(fd, NULL, NULL, 0);
      if (c < 0) break;
      struct timeval tv = {0, 200000};
      setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      if (read(c, buf, sizeof buf) > 0) served++;
      close(c);
      p.revents = 0;
      if (poll(&p, 1, 0) <= 0) break;
    }
  }
  printf("served=%llu\n", served);
  return 0;
}

// Shared by the conns workers (MAP_SHARED): the next connection to make, and the outcome counts.
struct conns_shared {
  unsigned long long next, made, failed;
  volatile int stop;
};

static void conns_worker(struct conns_shared *sh, int port, unsigned long long total, double rate, double start) {
  struct sockaddr_in to = lo_addr(port);
  char req[16] = "netprobes-soak\n";
  for (;;) {
    unsigned long long i = __atomic_fetch_add(&sh->next, 1, __ATOMIC_RELAXED);
    if (i >= total || sh->stop) break;
    if (rate > 0) {
      double due = start + i / rate, t;
      while (!sh->stop && (t = now_s()) < due) nap_us((long)((due - t) * 1e6) > 1000 ? 1000 : (long)((due - t) * 1e6) + 1);
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int ok = 0;
    if (fd >= 0) {
      ok = connect(fd, (struct sockaddr *)&to, sizeof to) == 0 && write(fd, req, sizeof req) == (ssize_t)sizeof req;
      close(fd);
    }
    __atomic_fetch_add(ok ? &sh->made : &sh->failed, 1, __ATOMIC_RELAXED);
    if (!ok) nap_us(1000); // e.g. no local port free: let TIME_WAIT drain a little
  }
  _exit(0);
}

static int conns_mode(int port, unsigned long long total, int workers, double rate, double seconds) {
  struct conns_shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (sh == MAP_FAILED) die("mmap");
  memset(sh, 0, sizeof *sh);
  double start = now_s(), end = start + seconds, last = start;
  for (int w = 0; w < workers; w++) {
    pid_t p = fork();
    if (p == 0) {
      signal(SIGINT, SIG_IGN);
      signal(SIGTERM, SIG_IGN); // the parent tells them to stop through sh->stop
      conns_worker(sh, port, total, rate, start);
    }
    if (p < 0) die("fork");
    printf("worker=%d\n", (int)p);
  }
  int alive = workers;
  while (alive > 0) {
    while (waitpid(-1, NULL, WNOHANG) > 0) alive--;
    double t = now_s();
    if (t >= end || stop_flag) sh->stop = 1;
    if (t - last >= 1) {
      last = t;
      printf("progress=%llu\nfailing=%llu\n", __atomic_load_n(&sh->made, __ATOMIC_RELAXED), __atomic_load_n(&sh->failed, __ATOMIC_RELAXED));
    }
    nap_us(20000);
  }
  double took = now_s() - start;
  printf("connections=%llu\nfailed=%llu\nseconds=%.6f\nrate=%.0f\n", sh->made, sh->failed, took, sh->made / took);
  return 0;
}

int main(int argc, char **argv) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sig;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 3) {
    fprintf(stderr, "usage: see gen.c\n");
    return 2;
  }
  const char *m = argv[1];
  if (!strcmp(m, "udp") && argc >= 5) return flood(atoi(argv[2]), atof(argv[3]), atof(argv[4]), argc > 5 ? atoi(argv[5]) : 64, send_mmsg, BATCH);
  if (!strcmp(m, "sendto") && argc >= 5) return flood(atoi(argv[2]), atof(argv[3]), atof(argv[4]), 64, send_one, 1);
  if (!strcmp(m, "recv") && argc >= 4) return recv_mode(atoi(argv[2]), atof(argv[3]));
  if (!strcmp(m, "accept") && argc >= 4) return accept_mode(atoi(argv[2]), atof(argv[3]), argc > 4 && !strcmp(argv[4], "drain"));
  if (!strcmp(m, "connect") && argc >= 5) return connect_mode(atoi(argv[2]), atof(argv[3]), atof(argv[4]));
  if (!strcmp(m, "bulk") && argc >= 4) return bulk_mode(atoi(argv[2]), atof(argv[3]));
  if (!strcmp(m, "churn") && argc >= 7) return churn_mode(!strcmp(argv[2], "tcp"), atoi(argv[3]), atof(argv[4]), atoi(argv[5]), atof(argv[6]));
  if (!strcmp(m, "conns") && argc >= 7) return conns_mode(atoi(argv[2]), strtoull(argv[3], NULL, 10), atoi(argv[4]), atof(argv[5]), atof(argv[6]));
  if (!strcmp(m, "echo") && argc >= 5) return echo_mode(!strcmp(argv[2], "tcp"), atoi(argv[3]), atof(argv[4]));
  fprintf(stderr, "gen: bad arguments\n");
  return 2;
}
