/* xmpp-send --omemo --file (see omemo_file.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/msg.h"
#include "omemo/file.h"
#include "xmpp/session.h"

#define KEY_LEN 32
#define IV_LEN 12
#define TAG_LEN 16
#define CHUNK 65536

static int write_all(int fd, const unsigned char *p, size_t n)
{
    ssize_t w;

    while (n > 0) {
        w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Wait until in is readable, at most until the absolute time until (0:
 * no limit): 0, or -1 when the time is up. */
static int wait_readable(int in, double until)
{
    struct pollfd p = {in, POLLIN, 0};
    double left;
    int r;

    if (until <= 0)
        return 0;
    for (;;) {
        left = until - xu_now();
        if (left <= 0)
            return -1;
        r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r > 0 || (r < 0 && errno != EINTR))
            return 0; /* readable, or read() will say what is wrong */
    }
}

int xu_omemo_file_encrypt(int in, int out, const unsigned char *key, const unsigned char *iv,
                          double until, unsigned long long *size, const char *label,
                          struct xu_error *err)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    unsigned char *buf = malloc(CHUNK), *enc = malloc(CHUNK + 32), tag[TAG_LEN];
    int rc = 0, len = 0;
    ssize_t r;

    *size = 0;
    if (!ctx || !buf || !enc) {
        rc = xu_error_set(err, XU_EX_OSERR, "out of memory");
        goto out;
    }
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, IV_LEN, NULL) != 1 ||
        EVP_EncryptInit_ex(ctx, NULL, NULL, key, iv) != 1) {
        rc = xu_error_set(err, XU_EX_SOFTWARE, "AES-256-GCM is not available from OpenSSL");
        goto out;
    }
    for (;;) {
        if (wait_readable(in, until) < 0) {
            rc = xu_error_set(err, XU_EX_TEMPFAIL, "%s did not end within --timeout: nothing was "
                              "uploaded", label);
            goto out;
        }
        r = read(in, buf, CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = xu_error_set(err, XU_EX_IOERR, "cannot read %s: %s", label, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        if (EVP_EncryptUpdate(ctx, enc, &len, buf, (int)r) != 1) {
            rc = xu_error_set(err, XU_EX_SOFTWARE, "AES-256-GCM encryption failed");
            goto out;
        }
        if (write_all(out, enc, (size_t)len) < 0)
            goto werr;
        *size += (unsigned long long)len;
    }
    if (EVP_EncryptFinal_ex(ctx, enc, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1) {
        rc = xu_error_set(err, XU_EX_SOFTWARE, "AES-256-GCM encryption failed");
        goto out;
    }
    if ((len > 0 && write_all(out, enc, (size_t)len) < 0) || write_all(out, tag, TAG_LEN) < 0)
        goto werr;
    *size += (unsigned long long)len + TAG_LEN;
    goto out;
werr:
    rc = xu_error_set(err, XU_EX_IOERR, "cannot write the encrypted copy of %s: %s", label,
                      strerror(errno));
out:
    if (buf)
        OPENSSL_cleanse(buf, CHUNK);
    free(buf);
    free(enc);
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

static void hex(char *dst, const unsigned char *p, size_t n)
{
    static const char d[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        dst[2 * i] = d[p[i] >> 4];
        dst[2 * i + 1] = d[p[i] & 15];
    }
    dst[2 * n] = '\0';
}

char *xu_omemo_file_url(const char *get_url, const unsigned char *iv, const unsigned char *key)
{
    static const char https[] = "https://", scheme[] = "aesgcm://";
    const char *rest;
    size_t n;
    char *u;

    if (strncmp(get_url, https, sizeof https - 1) != 0 || strchr(get_url, '#'))
        return NULL;
    rest = get_url + sizeof https - 1;
    n = sizeof scheme - 1 + strlen(rest) + 1 + 2 * (IV_LEN + KEY_LEN) + 1;
    u = malloc(n);
    if (!u)
        return NULL;
    snprintf(u, n, "%s%s#", scheme, rest);
    hex(u + strlen(u), iv, IV_LEN);
    hex(u + strlen(u), key, KEY_LEN);
    return u;
}

struct enc_file {
    struct xu_upload_src src;
    unsigned char key[KEY_LEN], iv[IV_LEN];
    char name[40];   /* random: the upload server learns nothing from it */
    char label[512]; /* for messages */
};

static int temp_file(int *fd, struct xu_error *err)
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

/* Read f (a path, or "-") to its end into an encrypted unlinked temp file. */
static int encrypt_file(const struct xu_upload_file *f, struct enc_file *ef, double until,
                        struct xu_error *err)
{
    unsigned char rnd[16];
    struct stat st;
    int in, rc;

    xu_sanitize_terminal(ef->label, sizeof ef->label,
                         strcmp(f->path, "-") == 0 ? "standard input" : f->path);
    if (RAND_bytes(ef->key, KEY_LEN) != 1 || RAND_bytes(ef->iv, IV_LEN) != 1 ||
        RAND_bytes(rnd, sizeof rnd) != 1)
        return xu_error_set(err, XU_EX_SOFTWARE, "OpenSSL has no random bytes to give");
    hex(ef->name, rnd, sizeof rnd);
    if (strcmp(f->path, "-") == 0) {
        in = 0;
    } else {
        in = open(f->path, O_RDONLY | O_CLOEXEC);
        if (in < 0)
            return xu_error_set(err, XU_EX_IOERR, "cannot open %s: %s", ef->label, strerror(errno));
    }
    if (fstat(in, &st) < 0) {
        rc = xu_error_set(err, XU_EX_IOERR, "cannot stat %s: %s", ef->label, strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
        rc = xu_error_set(err, XU_EX_DATAERR, "%s is a directory: give files", ef->label);
    } else {
        rc = temp_file(&ef->src.fd, err);
        if (rc == 0)
            rc = xu_omemo_file_encrypt(in, ef->src.fd, ef->key, ef->iv, until, &ef->src.size,
                                       ef->label, err);
        if (rc == 0 && lseek(ef->src.fd, 0, SEEK_SET) < 0)
            rc = xu_error_set(err, XU_EX_IOERR, "cannot rewind the temporary file: %s",
                              strerror(errno));
    }
    if (in != 0)
        close(in);
    ef->src.name = ef->name;
    ef->src.type = "application/octet-stream";
    ef->src.label = ef->label;
    return rc;
}

int xu_omemo_upload_files(const struct xu_opts *opts, struct xu_upload_file *files, int n,
                          double until, int progress, struct xu_error *err)
{
    struct enc_file *ef = calloc((size_t)(n > 0 ? n : 1), sizeof *ef);
    struct xu_upload_service svc = {NULL, 0};
    struct xu_session s;
    char *get;
    int rc = 0, i, opened = 0;

    if (!ef)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    for (i = 0; i < n; i++)
        ef[i].src.fd = -1;
    /* every file read and encrypted before we log in */
    for (i = 0; i < n && rc == 0; i++) {
        rc = encrypt_file(&files[i], &ef[i], until, err);
        if (rc == 0)
            xu_info("%s encrypted (AES-256-GCM): %llu bytes to upload", ef[i].label,
                    ef[i].src.size);
    }
    memset(&s, 0, sizeof s);
    s.sock = -1;
    if (rc == 0) {
        opened = 1;
        rc = xu_session_open(&s, opts, until, err);
    }
    if (rc == 0)
        rc = xu_upload_discover(&s, until, &svc, err);
    /* xu_upload_one checks the limit too, but only for its own file: all of
     * them are checked before the first byte goes out */
    for (i = 0; i < n && rc == 0 && svc.max_size; i++)
        if (ef[i].src.size > svc.max_size)
            rc = xu_error_set(err, XU_EX_DATAERR,
                              "%s is %llu bytes encrypted, larger than the %s limit of %llu bytes: "
                              "nothing was uploaded", ef[i].label, ef[i].src.size, svc.jid,
                              svc.max_size);
    for (i = 0; i < n && rc == 0; i++) {
        rc = xu_upload_one(&s, &svc, &ef[i].src, until, progress, &get, err);
        if (rc == 0) {
            files[i].get_url = xu_omemo_file_url(get, ef[i].iv, ef[i].key);
            if (!files[i].get_url)
                rc = xu_error_set(err, XU_EX_PROTOCOL,
                                  "the upload service gave a download URL that is not https:// "
                                  "(or has a fragment): it cannot be shared encrypted");
            free(get);
        }
    }
    if (s.ready)
        xu_session_close(&s);
    if (opened)
        xu_session_free(&s);
    xu_upload_service_free(&svc);
    for (i = 0; i < n; i++) {
        if (ef[i].src.fd >= 0)
            close(ef[i].src.fd);
        if (rc) {
            free(files[i].get_url);
            files[i].get_url = NULL;
        }
    }
    OPENSSL_cleanse(ef, (size_t)(n > 0 ? n : 1) * sizeof *ef);
    free(ef);
    return rc;
}
