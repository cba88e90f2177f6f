/*
 * spore-pagefs: a one-file, read-only FUSE file system that serves a snapshot's pages image on demand.
 *
 * Usage: spore-pagefs MOUNTPOINT FILENAME SIZE BACKING [BITMAP]
 *
 * MOUNTPOINT gets one regular file, FILENAME, of SIZE bytes (mode 0444). Its bytes live in BACKING, a sparse
 * file the agent fills from the snapshot store. Before it answers a read, this helper asks the agent, on
 * stdout, to make the range present (16 bytes: u64 offset, u32 length, u32 the reading thread's id as FUSE gives it,
 * little endian) and waits for one byte on stdin: 0 = the range is in BACKING, verified (SHA-256 per chunk, in the
 * agent); anything else, or the agent gone = the read fails with EIO. A process that faults on such a page gets
 * SIGBUS, and the agent also SIGKILLs it (a JVM's fatal-error reporter can linger for minutes touching more pages
 * that cannot come): a page that cannot be fetched kills the instance instead of blocking it. The kernel's page cache keeps what
 * was read (FOPEN_KEEP_CACHE), so instances restored from the same mount share those pages.
 *
 * BITMAP (optional) is a file the agent maps too: one bit per 4 KiB page of FILENAME, set by the agent once the page
 * is in BACKING, verified. A read whose pages are all set is answered from BACKING without asking the agent: the
 * prefetched working set and the filled image cost a pread, not a round trip through the agent.
 *
 * PUSH (optional, environment SPORE_PAGEFS_PUSH=PATH): a FIFO this helper creates before it mounts; the agent writes
 * 16-byte commands to it (u64 offset, u32 length, u32 zero), each naming a range it has just made present (verified,
 * bits set). A second thread reads the range from BACKING and hands it to the kernel with FUSE_NOTIFY_STORE: the
 * bytes go straight into the file's page cache, so the restore's and the instance's page faults on them never
 * become FUSE reads at all. Measured (quarkus-hello, 30 MiB prefetched, readahead 0): without it CRIU's restorer
 * populated the prefetched runs one 4 KiB FUSE read at a time (~7,500 round trips through this helper, 80-180 ms of
 * CRIU's time); see docs/images.md. The kernel needs the file's inode for that: the agent opens the file once
 * after the mount (LOOKUP) and keeps it open while it pushes; a push before that fails with ENOENT and is skipped
 * (the pages are then read through FUSE as before, nothing is lost).
 *
 * Why raw /dev/fuse and not libfuse: the protocol needed for one read-only file is eight opcodes, and the
 * node then needs no FUSE library (Debian's libfuse3 is not installed on these hosts).
 *
 * THREADS (environment SPORE_PAGEFS_THREADS, 1-16, default 1): that many threads read /dev/fuse (the kernel hands
 * each request to one reader). Requests to the agent stay one at a time (a mutex around the 16-byte request and its
 * status byte: the agent's protocol is in order), but a read of present pages (bitmap set) is answered by another
 * thread while one waits for the agent: a fault on a prefetched page is not stuck behind a miss. On a 2-core host 4
 * threads were slower than 1 (docs/images.md, Round 4), hence the default. (The push thread only writes to /dev/fuse;
 * it never answers a request.)
 *
 * Exits 0 when the file system is unmounted (umount, or the agent's `umount -l`), 2 on a usage error, 1 on a
 * failure to mount (message on stderr).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define FILE_INO 2
#define MAX_READ (1024 * 1024)
#define BUF_SIZE (MAX_READ + 4096)

static const char *file_name;
static uint64_t file_size;
static int backing = -1;
static int fuse_fd = -1;
static int agent_gone;
static const volatile unsigned char *bitmap;
static uint64_t bitmap_bytes;
static uint64_t pushed_bytes;
static pthread_mutex_t agent_lock = PTHREAD_MUTEX_INITIALIZER; /* one request to the agent at a time */
#define MAX_THREADS 16
#define PUSH_PIECE (1024 * 1024)

static int all_present(uint64_t off, uint64_t len) {
    if (!bitmap) {
        return 0;
    }
    for (uint64_t p = off / 4096; p <= (off + len - 1) / 4096; p++) {
        if (p / 8 >= bitmap_bytes || !(bitmap[p / 8] & (1u << (p % 8)))) {
            return 0;
        }
    }
    return 1;
}

static void reply(uint64_t unique, int error, const void *data, size_t len) {
    struct fuse_out_header h = {.len = sizeof h + (error ? 0 : len), .error = error, .unique = unique};
    struct iovec iov[2] = {{&h, sizeof h}, {(void *) data, error ? 0 : len}};
    if (writev(fuse_fd, iov, error || len == 0 ? 1 : 2) < 0 && errno != ENOENT) {
        perror("spore-pagefs: reply");
    }
}

static void fill_attr(struct fuse_attr *a, uint64_t ino) {
    memset(a, 0, sizeof *a);
    a->ino = ino;
    a->nlink = ino == FUSE_ROOT_ID ? 2 : 1;
    a->mode = ino == FUSE_ROOT_ID ? (S_IFDIR | 0555) : (S_IFREG | 0444);
    a->size = ino == FUSE_ROOT_ID ? 0 : file_size;
    a->blocks = (a->size + 511) / 512;
    a->blksize = 4096;
}

/* Asks the agent for [off, off+len); returns 0 when the bytes are in the backing file. */
static int ask_agent_locked(uint64_t off, uint32_t len, uint32_t pid);

static int ask_agent(uint64_t off, uint32_t len, uint32_t pid) {
    pthread_mutex_lock(&agent_lock);
    /* another thread's request may have made these pages present meanwhile (a window around its miss) */
    int r = all_present(off, len) ? 0 : ask_agent_locked(off, len, pid);
    pthread_mutex_unlock(&agent_lock);
    return r;
}

static int ask_agent_locked(uint64_t off, uint32_t len, uint32_t pid) {
    if (__atomic_load_n(&agent_gone, __ATOMIC_RELAXED)) {
        return -1;
    }
    unsigned char req[16];
    memcpy(req, &off, 8);
    memcpy(req + 8, &len, 4);
    memcpy(req + 12, &pid, 4); /* the reading thread: the agent ends its process if the read cannot be served */
    if (write(STDOUT_FILENO, req, sizeof req) != (ssize_t) sizeof req) {
        agent_gone = 1;
        return -1;
    }
    unsigned char status;
    ssize_t n;
    do {
        n = read(STDIN_FILENO, &status, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) {
        agent_gone = 1;
        return -1;
    }
    return status == 0 ? 0 : -1;
}

/* The push thread: FUSE_NOTIFY_STORE of each range the agent names on the FIFO (see the header). */
static void *pusher(void *arg) {
    const char *fifo = arg;
    int fd = open(fifo, O_RDONLY | O_CLOEXEC); /* blocks until the agent opens it for writing */
    if (fd < 0) {
        fprintf(stderr, "spore-pagefs: cannot open push FIFO %s: %s (pages are read through FUSE instead)\n", fifo, strerror(errno));
        return NULL;
    }
    char *data = malloc(PUSH_PIECE);
    int warned = 0;
    unsigned char cmd[16];
    for (;;) {
        size_t got = 0;
        while (got < sizeof cmd) {
            ssize_t n = read(fd, cmd + got, sizeof cmd - got);
            if (n <= 0) {
                if (n < 0 && errno == EINTR) {
                    continue;
                }
                return NULL; /* the agent closed it: no more pushes */
            }
            got += n;
        }
        uint64_t off;
        uint32_t len;
        memcpy(&off, cmd, 8);
        memcpy(&len, cmd + 8, 4);
        if (off >= file_size) {
            continue;
        }
        if (off + len > file_size) {
            len = file_size - off;
        }
        while (len > 0 && data) {
            uint32_t piece = len < PUSH_PIECE ? len : PUSH_PIECE;
            size_t done = 0;
            while (done < piece) {
                ssize_t n = pread(backing, data + done, piece - done, off + done);
                if (n <= 0) {
                    break;
                }
                done += n;
            }
            if (done < piece) {
                break; /* unreadable: leave it to FUSE reads */
            }
            struct fuse_notify_store_out st = {.nodeid = FILE_INO, .offset = off, .size = piece};
            struct fuse_out_header h = {.len = sizeof h + sizeof st + piece, .error = FUSE_NOTIFY_STORE, .unique = 0};
            struct iovec iov[3] = {{&h, sizeof h}, {&st, sizeof st}, {data, piece}};
            if (writev(fuse_fd, iov, 3) < 0) {
                if (errno == ENODEV) {
                    return NULL; /* unmounted */
                }
                if (!warned++) {
                    fprintf(stderr, "spore-pagefs: FUSE_NOTIFY_STORE at %llu (+%u) failed: %s (pages are read through FUSE instead)\n",
                            (unsigned long long) off, piece, strerror(errno));
                }
            } else {
                __atomic_add_fetch(&pushed_bytes, piece, __ATOMIC_RELAXED);
            }
            off += piece;
            len -= piece;
        }
    }
}

static void do_read(uint64_t unique, uint32_t pid, const struct fuse_read_in *in, char *out) {
    if (in->offset >= file_size) {
        reply(unique, 0, NULL, 0);
        return;
    }
    uint64_t len = in->size;
    if (len > MAX_READ) {
        len = MAX_READ;
    }
    if (in->offset + len > file_size) {
        len = file_size - in->offset;
    }
    if (!all_present(in->offset, len) && ask_agent(in->offset, (uint32_t) len, pid) != 0) {
        reply(unique, -EIO, NULL, 0);
        return;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(backing, out + done, len - done, in->offset + done);
        if (n <= 0) {
            reply(unique, -EIO, NULL, 0);
            return;
        }
        done += n;
    }
    reply(unique, 0, out, len);
}

/* One reader of /dev/fuse: answers requests until the file system is unmounted (then ends the process). */
static void *serve(void *unused) {
    (void) unused;
    char *buf = malloc(BUF_SIZE);
    char *out = malloc(MAX_READ);
    if (!buf || !out) {
        fprintf(stderr, "spore-pagefs: out of memory for a reader thread\n");
        exit(1);
    }
    for (;;) {
        ssize_t n = read(fuse_fd, buf, BUF_SIZE);
        if (n < 0) {
            if (errno == EINTR || errno == ENOENT || errno == EAGAIN) {
                continue;
            }
            if (errno == ENODEV) {
                exit(0); /* unmounted */
            }
            perror("spore-pagefs: read /dev/fuse");
            exit(1);
        }
        if ((size_t) n < sizeof(struct fuse_in_header)) {
            continue;
        }
        struct fuse_in_header *h = (struct fuse_in_header *) buf;
        void *arg = buf + sizeof *h;
        switch (h->opcode) {
        case FUSE_INIT: {
            struct fuse_init_in *in = arg;
            struct fuse_init_out o;
            memset(&o, 0, sizeof o);
            o.major = FUSE_KERNEL_VERSION;
            o.minor = in->minor < FUSE_KERNEL_MINOR_VERSION ? in->minor : FUSE_KERNEL_MINOR_VERSION;
            /* the kernel reads this much around each fault (mmap read-around) and ahead of sequential reads: more
               bytes per round trip, but bytes the instance may never touch; SPORE_PAGEFS_READAHEAD overrides */
            o.max_readahead = in->max_readahead;
            const char *ra = getenv("SPORE_PAGEFS_READAHEAD");
            if (ra && *ra) {
                uint32_t want = (uint32_t) strtoul(ra, NULL, 10);
                o.max_readahead = want < in->max_readahead ? want : in->max_readahead;
            }
            o.flags = FUSE_MAX_PAGES & in->flags ? FUSE_MAX_PAGES : 0;
            o.flags |= in->flags & FUSE_ASYNC_READ;
            o.max_write = 4096;
            o.max_pages = MAX_READ / 4096;
            o.time_gran = 1;
            reply(h->unique, 0, &o, sizeof o);
            break;
        }
        case FUSE_LOOKUP: {
            const char *name = arg;
            if (h->nodeid != FUSE_ROOT_ID || strcmp(name, file_name) != 0) {
                reply(h->unique, -ENOENT, NULL, 0);
                break;
            }
            struct fuse_entry_out e;
            memset(&e, 0, sizeof e);
            e.nodeid = FILE_INO;
            e.generation = 1;
            e.entry_valid = 86400;
            e.attr_valid = 86400;
            fill_attr(&e.attr, FILE_INO);
            reply(h->unique, 0, &e, sizeof e);
            break;
        }
        case FUSE_GETATTR: {
            struct fuse_attr_out a;
            memset(&a, 0, sizeof a);
            a.attr_valid = 86400;
            fill_attr(&a.attr, h->nodeid == FUSE_ROOT_ID ? FUSE_ROOT_ID : FILE_INO);
            reply(h->unique, 0, &a, sizeof a);
            break;
        }
        case FUSE_OPEN:
        case FUSE_OPENDIR: {
            struct fuse_open_out o;
            memset(&o, 0, sizeof o);
            o.open_flags = h->opcode == FUSE_OPEN ? FOPEN_KEEP_CACHE : 0;
            reply(h->unique, 0, &o, sizeof o);
            break;
        }
        case FUSE_READ:
            if (h->nodeid == FILE_INO) {
                do_read(h->unique, h->pid, arg, out);
            } else {
                reply(h->unique, -EISDIR, NULL, 0);
            }
            break;
        case FUSE_READDIR:
            reply(h->unique, 0, NULL, 0); /* empty listing: callers open the file by name */
            break;
        case FUSE_STATFS: {
            struct fuse_statfs_out s;
            memset(&s, 0, sizeof s);
            s.st.bsize = 4096;
            s.st.namelen = 255;
            s.st.frsize = 4096;
            reply(h->unique, 0, &s, sizeof s);
            break;
        }
        case FUSE_RELEASE:
        case FUSE_RELEASEDIR:
        case FUSE_FLUSH:
        case FUSE_ACCESS:
            reply(h->unique, 0, NULL, 0);
            break;
        case FUSE_FORGET:
        case FUSE_BATCH_FORGET:
            break; /* no reply */
        case FUSE_DESTROY:
            reply(h->unique, 0, NULL, 0);
            exit(0);
        case FUSE_INTERRUPT:
            break; /* reads are answered anyway */
        default:
            reply(h->unique, -ENOSYS, NULL, 0);
        }
    }
}

int main(int argc, char **argv) {
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: spore-pagefs MOUNTPOINT FILENAME SIZE BACKING [BITMAP]\n");
        return 2;
    }
    const char *mnt = argv[1];
    file_name = argv[2];
    file_size = strtoull(argv[3], NULL, 10);
    backing = open(argv[4], O_RDONLY | O_CLOEXEC);
    if (backing < 0) {
        fprintf(stderr, "spore-pagefs: cannot open backing file %s: %s\n", argv[4], strerror(errno));
        return 1;
    }
    if (argc == 6) {
        int bfd = open(argv[5], O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (bfd < 0 || fstat(bfd, &st) != 0 || st.st_size == 0) {
            fprintf(stderr, "spore-pagefs: cannot open bitmap %s: %s\n", argv[5], strerror(errno));
            return 1;
        }
        bitmap_bytes = st.st_size;
        void *m = mmap(NULL, bitmap_bytes, PROT_READ, MAP_SHARED, bfd, 0);
        if (m == MAP_FAILED) {
            fprintf(stderr, "spore-pagefs: cannot map bitmap %s: %s\n", argv[5], strerror(errno));
            return 1;
        }
        bitmap = m;
        close(bfd);
    }
    const char *push = getenv("SPORE_PAGEFS_PUSH");
    if (push && *push) {
        unlink(push);
        if (mkfifo(push, 0600) != 0) {
            fprintf(stderr, "spore-pagefs: cannot create push FIFO %s: %s\n", push, strerror(errno));
            return 1;
        }
    }
    fuse_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    if (fuse_fd < 0) {
        fprintf(stderr, "spore-pagefs: cannot open /dev/fuse: %s (load the fuse module, or run the agent privileged)\n",
                strerror(errno));
        return 1;
    }
    char opts[256];
    snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other,max_read=%d", fuse_fd, MAX_READ);
    if (mount("spore-pagefs", mnt, "fuse.spore-pagefs", MS_NOSUID | MS_NODEV | MS_RDONLY, opts) != 0) {
        fprintf(stderr, "spore-pagefs: cannot mount on %s: %s\n", mnt, strerror(errno));
        return 1;
    }
    if (push && *push) {
        pthread_t t;
        if (pthread_create(&t, NULL, pusher, (void *) push) != 0) {
            fprintf(stderr, "spore-pagefs: cannot start the push thread; pages are read through FUSE instead\n");
        } else {
            pthread_detach(t);
        }
    }
    /* tell the agent the mount is in place: it must not start CRIU before */
    unsigned char ready[16] = {0};
    memset(ready, 0xff, sizeof ready);
    if (write(STDOUT_FILENO, ready, sizeof ready) != (ssize_t) sizeof ready) {
        agent_gone = 1;
    }
    const char *th = getenv("SPORE_PAGEFS_THREADS");
    long threads = th && *th ? strtol(th, NULL, 10) : 1;
    if (threads < 1 || threads > MAX_THREADS) {
        threads = threads < 1 ? 1 : MAX_THREADS;
    }
    for (long i = 1; i < threads; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, serve, NULL) != 0) {
            break; /* fewer readers: still correct */
        }
        pthread_detach(t);
    }
    serve(NULL);
    return 0;
}
