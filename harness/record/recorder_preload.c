// precopy-lab recorder: an LD_PRELOAD library that samples the pages a program writes,
// at native speed, with the kernel's own write tracking. Built by `deno task record` with
// the machine's cc on first use.
//
// How: a userfaultfd in asynchronous write-protect mode (UFFD_FEATURE_WP_ASYNC, Linux 6.7)
// covers the process's private anonymous memory. A write to a protected page is resolved
// by the kernel without a fault message, and the PAGEMAP_SCAN ioctl on /proc/self/pagemap
// returns the pages written since the last scan and re-protects them in one call. A
// sampler thread does that every PCL_RECORD_INTERVAL_NS and appends one record per scan
// to PCL_RECORD_OUT.<pid>.raw:
//   u64 time_ns (CLOCK_MONOTONIC since the library started), u32 flags (1 = final scan
//   at exit), u32 n, then n × u64 page numbers (address / page size).
// Only private anonymous memory is covered (heap, anonymous mmaps, stacks).

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h> // snprintf and sscanf only: neither allocates
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

// UAPI values from Linux 6.7+ headers, which this machine's libc headers may predate.
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
struct pcl_page_region {
  uint64_t start, end, categories;
};
struct pcl_pm_scan_arg {
  uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages, category_inverted,
      category_mask, category_anyof_mask, return_mask;
};
#define PCL_PAGEMAP_SCAN _IOWR('f', 16, struct pcl_pm_scan_arg)
#define PCL_PAGE_IS_WRITTEN (1 << 1)
#define PCL_PAGE_IS_PRESENT (1 << 3)
#define PCL_PAGE_IS_PFNZERO (1 << 5)
#define PCL_PM_SCAN_WP_MATCHING (1 << 0)

#define MAX_REGIONS 4096
#define MAX_PAGES (1 << 20)
#define MAPS_BYTES (4 << 20)
#define SAMPLER_STACK (256 << 10)

static int uffd = -1, pagemap = -1, out = -1;
static long page_size;
static uint64_t t0, interval_ns = 10000000;
static volatile int stopping;
static pid_t owner; // the process whose sampler thread this is (fork copies the rest)
static pthread_t sampler;
static struct pcl_page_region *regions; // mmap'd: not in any scanned range
static uint64_t *pages;
static char *maps_buf;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void fail(const char *what) {
  char msg[256];
  int n = snprintf(msg, sizeof msg, "precopy-lab recorder: %s: %s\n", what, strerror(errno));
  if (write(2, msg, n) < 0) {}
}

static void write_all(const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(out, p, len);
    if (n <= 0) return;
    p += n;
    len -= (size_t)n;
  }
}

// Registers and scans every private anonymous writable mapping; returns pages found.
// No stdio and no malloc here: the sampler must not write pages of its own.
static uint32_t scan_once(void) {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  size_t len = 0;
  ssize_t r;
  while (len < MAPS_BYTES - 1 && (r = read(fd, maps_buf + len, MAPS_BYTES - 1 - len)) > 0)
    len += (size_t)r;
  close(fd);
  maps_buf[len] = '\0';
  uint32_t n = 0;
  for (char *line = maps_buf; line && *line;) {
    char *eol = strchr(line, '\n');
    if (eol) *eol = '\0';
    uintptr_t lo, hi;
    char perms[8];
    unsigned long offset, inode;
    char dev[16], path[256] = "";
    int fields = sscanf(line, "%lx-%lx %7s %lx %15s %lu %255s", &lo, &hi, perms, &offset, dev,
                        &inode, path);
    line = eol ? eol + 1 : NULL;
    if (fields < 6) continue;
    if (perms[0] != 'r' || perms[1] != 'w' || perms[3] != 'p' || inode != 0) continue;
    if (path[0] != '\0' && strcmp(path, "[heap]") != 0 && strncmp(path, "[stack", 6) != 0)
      continue;
    struct uffdio_register reg = {.range = {.start = lo, .len = hi - lo},
                                  .mode = UFFDIO_REGISTER_MODE_WP};
    if (ioctl(uffd, UFFDIO_REGISTER, &reg) != 0) continue; // e.g. a guard or special area
    uint64_t from = lo;
    while (from < hi && n < MAX_PAGES) {
      struct pcl_pm_scan_arg arg = {.size = sizeof arg,
                                    .flags = PCL_PM_SCAN_WP_MATCHING,
                                    .start = from,
                                    .end = hi,
                                    .vec = (uint64_t)(uintptr_t)regions,
                                    .vec_len = MAX_REGIONS,
                                    // written = not write-protected; present and not
                                    // the zero page, so that a range registered before
                                    // its first use does not report its holes
                                    .category_inverted = PCL_PAGE_IS_PFNZERO,
                                    .category_mask = PCL_PAGE_IS_WRITTEN |
                                                     PCL_PAGE_IS_PRESENT | PCL_PAGE_IS_PFNZERO,
                                    .return_mask = PCL_PAGE_IS_WRITTEN};
      long got = ioctl(pagemap, PCL_PAGEMAP_SCAN, &arg);
      if (got < 0) break;
      for (long i = 0; i < got; i++) {
        for (uint64_t a = regions[i].start; a < regions[i].end && n < MAX_PAGES; a += page_size)
          pages[n++] = a / (uint64_t)page_size;
      }
      if (arg.walk_end <= from) break;
      from = arg.walk_end;
    }
  }
  return n;
}

static void emit(uint32_t flags) {
  uint32_t n = scan_once();
  uint64_t t = now_ns() - t0;
  write_all(&t, 8);
  write_all(&flags, 4);
  write_all(&n, 4);
  write_all(pages, (size_t)n * 8);
}

static void *sample(void *arg) {
  (void)arg;
  uint64_t next = now_ns() + interval_ns;
  while (!stopping) {
    uint64_t t = now_ns();
    if (t < next) {
      struct timespec d = {.tv_sec = (time_t)((next - t) / 1000000000ull),
                           .tv_nsec = (long)((next - t) % 1000000000ull)};
      nanosleep(&d, NULL);
      continue;
    }
    emit(0);
    next += interval_ns;
  }
  return NULL;
}

__attribute__((constructor)) static void start(void) {
  const char *prefix = getenv("PCL_RECORD_OUT");
  if (!prefix) return;
  const char *iv = getenv("PCL_RECORD_INTERVAL_NS");
  if (iv) interval_ns = strtoull(iv, NULL, 10);
  page_size = sysconf(_SC_PAGESIZE);
  t0 = now_ns();
  uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
  if (uffd < 0) return fail("userfaultfd");
  struct uffdio_api api = {.api = UFFD_API,
                           .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED};
  if (ioctl(uffd, UFFDIO_API, &api) != 0) return fail("userfaultfd async write-protect (Linux 6.7+)");
  pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (pagemap < 0) return fail("/proc/self/pagemap");
  // The sampler's memory, its stack included, is shared anonymous memory: never merged
  // with the program's private mappings and never scanned, so it records nothing of its own.
  const int prot = PROT_READ | PROT_WRITE, flags = MAP_SHARED | MAP_ANONYMOUS;
  regions = mmap(NULL, sizeof *regions * MAX_REGIONS, prot, flags, -1, 0);
  pages = mmap(NULL, sizeof *pages * MAX_PAGES, prot, flags, -1, 0);
  maps_buf = mmap(NULL, MAPS_BYTES, prot, flags, -1, 0);
  void *stack = mmap(NULL, SAMPLER_STACK, prot, flags | MAP_STACK, -1, 0);
  if (regions == MAP_FAILED || pages == MAP_FAILED || maps_buf == MAP_FAILED || stack == MAP_FAILED)
    return fail("mmap");
  char path[4096];
  snprintf(path, sizeof path, "%s.%d.raw", prefix, (int)getpid());
  out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) return fail(path);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstack(&attr, stack, SAMPLER_STACK);
  owner = getpid();
  if (pthread_create(&sampler, &attr, sample, NULL) != 0) return fail("pthread_create");
  pthread_attr_destroy(&attr);
}

__attribute__((destructor)) static void finish(void) {
  // A forked child has the parent's state but no sampler thread: it records nothing.
  if (out < 0 || getpid() != owner) return;
  stopping = 1;
  pthread_join(sampler, NULL);
  emit(1); // the exit-time scan: marked so the converter can drop it
  close(out);
  out = -1;
}
