/* Files as upload sources (xmpp-send --file): opened before logging in,
 * standard input or a FIFO spooled to an unlinked temp file (the upload
 * needs the size up front, and memory must not grow with the file), the
 * name to announce checked, the type read from the content with libmagic
 * (loaded with dlopen, as libcurl is: see upload_http.c). Then the engine
 * (upload.c) uploads them. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/msg.h"
#include "base/text.h"
#include "send/upload_int.h"

#define MAGIC_BYTES 65536     /* read for the content type */

/* ---- libmagic, loaded when a file's type is needed ---- */

static struct {
    void *handle;
    int tried;
    __typeof__(magic_open) *open;
    __typeof__(magic_load) *load;
    __typeof__(magic_buffer) *buffer;
    __typeof__(magic_close) *close;
} M;

/* 0 when libmagic is there; without it the type is application/octet-stream. */
static int load_magic(void)
{
    if (!M.tried) {
        M.tried = 1;
        M.handle = dlopen("libmagic.so.1", RTLD_NOW | RTLD_LOCAL);
        if (M.handle && !(xu_upload_dlsym(M.handle, "magic_open", &M.open) &
                          xu_upload_dlsym(M.handle, "magic_load", &M.load) &
                          xu_upload_dlsym(M.handle, "magic_buffer", &M.buffer) &
                          xu_upload_dlsym(M.handle, "magic_close", &M.close))) {
            dlclose(M.handle);
            M.handle = NULL;
        }
        if (!M.handle)
            xu_info("libmagic is not available: files are announced as application/octet-stream "
                    "unless --file-type says otherwise");
    }
    return M.handle ? 0 : -1;
}

#define magic_open M.open
#define magic_load M.load
#define magic_buffer M.buffer
#define magic_close M.close

/* ---- content type ---- */

/* The MIME type of the data at the start of fd (read with pread, so the
 * position is unchanged), from its content: into buf. Never fails: data
 * libmagic cannot classify is application/octet-stream. */
static void content_type(int fd, char *buf, size_t len)
{
    static const char fallback[] = "application/octet-stream";
    char *data = malloc(MAGIC_BYTES);
    const char *t = NULL;
    ssize_t n = data ? pread(fd, data, MAGIC_BYTES, 0) : -1;
    magic_t m = n > 0 && load_magic() == 0 ? magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR) : NULL;

    if (m && magic_load(m, NULL) == 0)
        t = magic_buffer(m, data, (size_t)n);
    /* nothing to look at (an empty file) or nothing recognised */
    if (!t || !strchr(t, '/') || strcmp(t, "application/x-empty") == 0)
        t = fallback;
    snprintf(buf, len, "%s", t);
    if (m)
        magic_close(m);
    free(data);
}

/* ---- opening files ---- */

int xu_upload_temp_file(int *fd, struct xu_error *err)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];

    snprintf(path, sizeof path, "%s/xmpp-send.XXXXXX", dir && *dir ? dir : "/tmp");
    *fd = mkstemp(path); /* 0600 */
    if (*fd < 0)
        return xu_error_set(err, XU_EX_IOERR, "cannot create a temporary file in %s: %s",
                            dir && *dir ? dir : "/tmp", strerror(errno));
    unlink(path);
    return 0;
}

int xu_upload_open_input(const char *path, char *label, size_t len, int *fd, struct stat *st,
                         struct xu_error *err)
{
    int in = 0, rc = 0;

    xu_sanitize_terminal(label, len, strcmp(path, "-") == 0 ? "standard input" : path);
    if (strcmp(path, "-") != 0) {
        in = open(path, O_RDONLY | O_CLOEXEC);
        if (in < 0)
            return xu_error_set(err, XU_EX_IOERR, "cannot open %s: %s", label, strerror(errno));
    }
    if (fstat(in, st) < 0)
        rc = xu_error_set(err, XU_EX_IOERR, "cannot stat %s: %s", label, strerror(errno));
    else if (S_ISDIR(st->st_mode))
        rc = xu_error_set(err, XU_EX_DATAERR, "%s is a directory: give files", label);
    if (rc && in != 0)
        close(in);
    *fd = rc ? -1 : in;
    return rc;
}

/* Standard input that is not a regular file (a pipe): copied to an unlinked
 * temp file first (the upload needs the size up front, and memory must not
 * grow with the file). */
static int spool(int in, int *out, unsigned long long *size, struct xu_error *err)
{
    char *buf;
    ssize_t r, w, off;
    int fd, rc;

    if ((rc = xu_upload_temp_file(&fd, err)) != 0)
        return rc;
    buf = malloc(65536);
    if (!buf) {
        close(fd);
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    }
    *size = 0;
    for (;;) {
        r = read(in, buf, 65536);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        for (off = 0; off < r; off += w) {
            w = write(fd, buf + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR)
                w = 0;
            else if (w < 0)
                break;
        }
        if (off < r) {
            free(buf);
            close(fd);
            return xu_error_set(err, XU_EX_IOERR, "cannot write the temporary copy of standard "
                                "input: %s", strerror(errno));
        }
        *size += (unsigned long long)r;
    }
    free(buf);
    if (r < 0) {
        close(fd);
        return xu_error_set(err, XU_EX_IOERR, "cannot read standard input: %s", strerror(errno));
    }
    if (lseek(fd, 0, SEEK_SET) < 0) {
        close(fd);
        return xu_error_set(err, XU_EX_IOERR, "cannot rewind the temporary file: %s",
                            strerror(errno));
    }
    *out = fd;
    return 0;
}

/* A file name to announce: not empty, no '/', printable UTF-8. */
static int name_ok(const char *n)
{
    size_t i, len = strlen(n);

    if (len == 0 || len > 255 || strchr(n, '/') || strcmp(n, ".") == 0 || strcmp(n, "..") == 0 ||
        !xu_text_is_clean(n, len))
        return 0;
    for (i = 0; i < len; i++)
        if ((unsigned char)n[i] < 0x20 || n[i] == 0x7f)
            return 0;
    return 1;
}

/* ---- xmpp-send --file ---- */

struct src_file {
    struct xu_upload_src src;
    char type[128];
    char label[300];
    char *name;
};

static int open_file(const struct xu_upload_file *f, void *state, double until,
                     struct xu_error *err)
{
    struct src_file *sf = state;
    const char *base;
    struct stat st;
    int fd, rc;

    (void)until;
    rc = xu_upload_open_input(f->path, sf->label, sizeof sf->label, &fd, &st, err);
    if (rc)
        return rc;
    sf->src.fd = fd;
    if (S_ISREG(st.st_mode)) {
        sf->src.size = (unsigned long long)st.st_size;
        if (fd == 0 && lseek(0, 0, SEEK_CUR) > 0) /* what is left of it */
            sf->src.size -= (unsigned long long)lseek(0, 0, SEEK_CUR);
    } else {
        if (fd != 0) /* a FIFO or device given by name: read it like stdin */
            xu_info("%s is not a regular file: copying it to a temporary file first", sf->label);
        rc = spool(fd, &sf->src.fd, &sf->src.size, err);
        if (fd != 0)
            close(fd);
        if (rc) {
            sf->src.fd = -1;
            return rc;
        }
    }
    if (f->name) {
        base = f->name;
    } else if (fd == 0 && strcmp(f->path, "-") == 0) {
        return xu_error_set(err, XU_EX_USAGE, "--file - needs --file-name NAME (the name to announce)");
    } else {
        base = strrchr(f->path, '/');
        base = base && base[1] ? base + 1 : f->path;
    }
    if (!name_ok(base))
        return xu_error_set(err, f->name ? XU_EX_USAGE : XU_EX_DATAERR,
                            "'%s' cannot be announced as a file name (printable UTF-8, no '/', at "
                            "most 255 bytes)%s", sf->label, f->name ? "" : "; give --file-name");
    sf->name = strdup(base);
    if (!sf->name)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    if (f->type)
        snprintf(sf->type, sizeof sf->type, "%s", f->type);
    else
        content_type(sf->src.fd, sf->type, sizeof sf->type);
    sf->src.name = sf->name;
    sf->src.type = sf->type;
    sf->src.label = sf->label;
    return 0;
}

static void close_file(void *state)
{
    struct src_file *sf = state;

    if (sf->src.fd > 0) /* not standard input */
        close(sf->src.fd);
    free(sf->name);
}

int xu_upload_files(const struct xu_opts *opts, struct xu_upload_file *files, int n, double until,
                    int progress, struct xu_error *err)
{
    static const struct xu_upload_kind plain = {sizeof(struct src_file), open_file, NULL,
                                                close_file};

    return xu_upload_files_as(&plain, opts, files, n, until, progress, err);
}
