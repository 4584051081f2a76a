/* common.c — error record, logging, mmap, file reading, half-float conversion. */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

quipu_status quipu_error_set(quipu_error *err, quipu_status code, const char *fmt, ...) {
    if (err && err->code == QUIPU_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        /* one line: newlines in user data must not break the contract */
        for (char *p = err->msg; *p; p++)
            if (*p == '\n' || *p == '\r') *p = ' ';
        err->code = code;
    }
    return code;
}

void quipu_error_clear(quipu_error *err) {
    if (err) {
        err->code = QUIPU_OK;
        err->msg[0] = '\0';
    }
}

const char *quipu_status_name(quipu_status s) {
    switch (s) {
    case QUIPU_OK: return "ok";
    case QUIPU_ERR_IO: return "i/o error";
    case QUIPU_ERR_FORMAT: return "format error";
    case QUIPU_ERR_UNSUPPORTED: return "unsupported";
    case QUIPU_ERR_INVALID: return "invalid input";
    case QUIPU_ERR_NOMEM: return "out of memory";
    case QUIPU_ERR_NUMERIC: return "numeric error";
    case QUIPU_ERR_INTERNAL: return "internal error";
    }
    return "unknown";
}

static int g_rank = -1;
static quipu_log_level g_level = QUIPU_LOG_INFO;

void quipu_log_set_rank(int rank) { g_rank = rank; }
void quipu_log_set_level(quipu_log_level lvl) { g_level = lvl; }

void quipu_log(quipu_log_level lvl, const char *fmt, ...) {
    if (lvl < g_level) return;
    if (lvl <= QUIPU_LOG_INFO && g_rank > 0) return;
    static const char *names[] = {"debug", "info", "warn", "error"};
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (g_rank >= 0)
        fprintf(stderr, "quipu[%d] %s: %s\n", g_rank, names[lvl], line);
    else
        fprintf(stderr, "quipu %s: %s\n", names[lvl], line);
}

void *quipu_malloc_array(size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) return NULL;
    size_t total = n * size;
    return malloc(total ? total : 1);
}

char *quipu_strdup(const char *s) {
    size_t n = strlen(s ? s : "");
    char *d = malloc(n + 1);
    if (d) memcpy(d, s ? s : "", n + 1);
    return d;
}

char *quipu_asprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

void *quipu_calloc_array(size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

int quipu_mul_overflow_u64(uint64_t a, uint64_t b, uint64_t *out) {
    if (a && b > UINT64_MAX / a) return -1;
    *out = a * b;
    return 0;
}

/* What a non-regular file is, for messages. */
static const char *file_kind(mode_t m) {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    return "not a regular file";
}

/* Opens path read-only without blocking (a FIFO with no writer would hang open()), and checks it
 * is a regular file. Returns the fd (blocking again) or -1 with err set. */
static int open_regular(const char *path, struct stat *st, quipu_error *err) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        quipu_error_set(err, QUIPU_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, st) != 0) {
        int e = errno;
        close(fd);
        quipu_error_set(err, QUIPU_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        close(fd);
        quipu_error_set(err, QUIPU_ERR_IO, "%s: is %s, expected a regular file", path, file_kind(st->st_mode));
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

quipu_status quipu_mmap_open(quipu_mmap *m, const char *path, quipu_error *err) {
    m->data = NULL;
    m->size = 0;
    struct stat st;
    int fd = open_regular(path, &st, err);
    if (fd < 0) return err ? err->code : QUIPU_ERR_IO;
    if (st.st_size == 0) {
        close(fd);
        m->data = (const uint8_t *)"";
        m->size = 0;
        return QUIPU_OK;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) return quipu_error_set(err, QUIPU_ERR_IO, "%s: cannot mmap: %s", path, strerror(e));
    m->data = p;
    m->size = (size_t)st.st_size;
    return QUIPU_OK;
}

static _Thread_local sigjmp_buf *g_bus_jump;

static void on_sigbus(int sig, siginfo_t *si, void *uc) {
    (void)si, (void)uc;
    if (g_bus_jump) siglongjmp(*g_bus_jump, 1);
    signal(sig, SIG_DFL); /* not inside a guard: die as we would have */
    raise(sig);
}

quipu_status quipu_guard_sigbus(const char *path, quipu_status (*fn)(void *ctx, quipu_error *err), void *ctx, quipu_error *err) {
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &old);
    sigjmp_buf jb;
    quipu_status st;
    if (sigsetjmp(jb, 1) == 0) {
        g_bus_jump = &jb;
        st = fn(ctx, err);
    } else {
        st = quipu_error_set(err, QUIPU_ERR_IO, "%s: the file shrank while it was being read (rewritten or truncated by another process?)", path);
    }
    g_bus_jump = NULL;
    sigaction(SIGBUS, &old, NULL);
    return st;
}

void quipu_mmap_close(quipu_mmap *m) {
    if (m && m->data && m->size) munmap((void *)m->data, m->size);
    if (m) {
        m->data = NULL;
        m->size = 0;
    }
}

quipu_status quipu_check_regular_file(const char *path, quipu_error *err) {
    struct stat st;
    int fd = open_regular(path, &st, err);
    if (fd < 0) return err ? err->code : QUIPU_ERR_IO;
    close(fd);
    return QUIPU_OK;
}

quipu_status quipu_read_file_max(const char *path, uint64_t max_bytes, const char *what, char **out, size_t *len,
                                 quipu_error *err) {
    *out = NULL;
    if (len) *len = 0;
    struct stat st;
    int fd = open_regular(path, &st, err);
    if (fd < 0) return err ? err->code : QUIPU_ERR_IO;
    if (max_bytes > SIZE_MAX - 1) max_bytes = SIZE_MAX - 1;
    if ((uint64_t)st.st_size > max_bytes) {
        close(fd);
        return quipu_error_set(err, QUIPU_ERR_INVALID, "%s: %llu bytes is larger than the limit of %llu bytes for a %s", path,
                               (unsigned long long)st.st_size, (unsigned long long)max_bytes, what ? what : "file");
    }
    /* the size may change under us: read up to one byte past the cap to notice a file that grew */
    size_t cap = (size_t)st.st_size + 1, n = 0;
    if (cap < 4096) cap = 4096;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (n + 1 >= cap) {
            size_t nc = cap * 2;
            if (nc > max_bytes + 2) nc = (size_t)max_bytes + 2;
            char *nb = nc > cap ? realloc(buf, nc) : NULL;
            if (!nb) {
                free(buf);
                close(fd);
                if (nc <= cap)
                    return quipu_error_set(err, QUIPU_ERR_INVALID, "%s: grew past the limit of %llu bytes for a %s while read", path,
                                           (unsigned long long)max_bytes, what ? what : "file");
                return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap = nc;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return quipu_error_set(err, QUIPU_ERR_IO, "%s: read error: %s", path, strerror(e));
        }
        if (r == 0) break;
        n += (size_t)r;
        if (n > max_bytes) {
            free(buf);
            close(fd);
            return quipu_error_set(err, QUIPU_ERR_INVALID, "%s: grew past the limit of %llu bytes for a %s while read", path,
                                   (unsigned long long)max_bytes, what ? what : "file");
        }
    }
    close(fd);
    buf[n] = '\0';
    *out = buf;
    if (len) *len = n;
    return QUIPU_OK;
}

quipu_status quipu_read_file(const char *path, char **out, size_t *len, quipu_error *err) {
    return quipu_read_file_max(path, QUIPU_READ_MAX_DEFAULT, "file", out, len, err);
}

float quipu_fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                mant <<= 1;
            } while (!(mant & 0x400));
            mant &= 0x3ff;
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | (mant << 13);
        }
    } else if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + (127 - 15)) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float quipu_bf16_to_fp32(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

double quipu_time_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

quipu_status quipu_mkdir_p(const char *path, quipu_error *err) {
    size_t n = strlen(path);
    char *tmp = malloc(n + 1);
    if (!tmp) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    memcpy(tmp, path, n + 1);
    quipu_status st = QUIPU_OK;
    for (char *q = tmp + 1; ; q++) {
        if (*q != '/' && *q != '\0') continue;
        char c = *q;
        *q = '\0';
        struct stat sb;
        if (mkdir(tmp, 0775) != 0 && errno != EEXIST) {
            st = quipu_error_set(err, QUIPU_ERR_IO, "%s: cannot create folder: %s", tmp, strerror(errno));
            break;
        }
        if (stat(tmp, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            st = quipu_error_set(err, QUIPU_ERR_IO, "%s: exists and is not a folder", tmp);
            break;
        }
        *q = c;
        if (!c) break;
    }
    free(tmp);
    return st;
}

/* The shortest text that reads back to the same double: plain decimals ("10", "0.95", "2.5")
 * from 1e-5 to 1e16, else the shortest "%.*g" ("1e-07"). Correctly rounded printf (glibc, musl)
 * makes it the same text everywhere. */
void quipu_format_shortest(char *buf, size_t len, double x) {
    double ax = fabs(x);
    if (x == 0 || (ax >= 1e-5 && ax < 1e16)) {
        for (int d = 0; d <= 21; d++) {
            snprintf(buf, len, "%.*f", d, x);
            if (strtod(buf, NULL) == x) return;
        }
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, len, "%.*g", p, x);
        if (strtod(buf, NULL) == x) return;
    }
}

/* Rewrites, in place, every real number of a JSON text in its shortest round-trip form (jansson
 * prints reals with 17 digits: 0.95 as 0.94999999999999996); strings are left alone. */
void quipu_json_shortest_reals(char *text) {
    char *r = text, *w = text;
    while (*r) {
        if (*r == '"') { /* a string, escapes included */
            *w++ = *r++;
            while (*r && *r != '"') {
                if (*r == '\\' && r[1]) *w++ = *r++;
                *w++ = *r++;
            }
            if (*r) *w++ = *r++;
            continue;
        }
        if (*r == '-' || (*r >= '0' && *r <= '9')) {
            char *end = r;
            int real = 0;
            while (*end && strchr("+-0123456789.eE", *end)) real |= (*end == '.' || *end == 'e' || *end == 'E'), end++;
            if (real) {
                char buf[40];
                quipu_format_shortest(buf, sizeof buf, strtod(r, NULL));
                size_t n = strlen(buf);
                if (n <= (size_t)(end - r)) { /* never longer than %.17g */
                    memcpy(w, buf, n);
                    w += n;
                    r = end;
                    continue;
                }
            }
            while (r < end) *w++ = *r++;
            continue;
        }
        *w++ = *r++;
    }
    *w = '\0';
}

/* ---------------------------------------------------------------- string map */

static size_t strmap_hash(const char *s) {
    size_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

int quipu_strmap_get(const quipu_strmap *m, const char *key, long *val) {
    if (!m->cap) return 0;
    size_t h = strmap_hash(key) & (m->cap - 1);
    while (m->key[h]) {
        if (!strcmp(m->key[h], key)) {
            if (val) *val = m->val[h];
            return 1;
        }
        h = (h + 1) & (m->cap - 1);
    }
    return 0;
}

int quipu_strmap_add(quipu_strmap *m, const char *key, long val, long *old) {
    if ((m->n + 1) * 2 > m->cap) { /* at most half full */
        size_t cap = m->cap ? m->cap * 2 : 1024;
        char **k = calloc(cap, sizeof *k);
        long *v = calloc(cap, sizeof *v);
        if (!k || !v) {
            free(k);
            free(v);
            return -1;
        }
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->key[i]) continue;
            size_t h = strmap_hash(m->key[i]) & (cap - 1);
            while (k[h]) h = (h + 1) & (cap - 1);
            k[h] = m->key[i];
            v[h] = m->val[i];
        }
        free(m->key);
        free(m->val);
        m->key = k;
        m->val = v;
        m->cap = cap;
    }
    size_t h = strmap_hash(key) & (m->cap - 1);
    while (m->key[h]) {
        if (!strcmp(m->key[h], key)) {
            if (old) *old = m->val[h];
            return 0;
        }
        h = (h + 1) & (m->cap - 1);
    }
    if (!(m->key[h] = strdup(key))) return -1;
    m->val[h] = val;
    m->n++;
    return 1;
}

void quipu_strmap_free(quipu_strmap *m) {
    for (size_t i = 0; i < m->cap; i++) free(m->key[i]);
    free(m->key);
    free(m->val);
    memset(m, 0, sizeof *m);
}

int quipu_bcp47_ok(const char *t) {
    size_t n = 0;
    while (isalpha((unsigned char)t[n])) n++;
    if (n < 2 || n > 3) return 0;
    t += n;
    while (*t) {
        if (*t != '-') return 0;
        t++;
        size_t k = 0;
        while (isalnum((unsigned char)t[k])) k++;
        if (k < 1 || k > 8) return 0;
        t += k;
    }
    return 1;
}
