/* xmpp-send --omemo --file (see send/omemo_file.h): the files are encrypted
 * here, then uploaded by the one upload engine (send/upload.h). */
#include <errno.h>
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
#include "send/omemo_file.h"
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

/* Read f (a path, or "-") to its end into an encrypted unlinked temp file. */
static int encrypt_file(const struct xu_upload_file *f, void *state, double until,
                        struct xu_error *err)
{
    struct enc_file *ef = state;
    unsigned char rnd[16];
    struct stat st;
    int in, rc;

    if (RAND_bytes(ef->key, KEY_LEN) != 1 || RAND_bytes(ef->iv, IV_LEN) != 1 ||
        RAND_bytes(rnd, sizeof rnd) != 1)
        return xu_error_set(err, XU_EX_SOFTWARE, "OpenSSL has no random bytes to give");
    hex(ef->name, rnd, sizeof rnd);
    ef->src.name = ef->name;
    ef->src.type = "application/octet-stream";
    ef->src.label = ef->label;
    ef->src.encrypted = 1;
    rc = xu_upload_open_input(f->path, ef->label, sizeof ef->label, &in, &st, err);
    if (rc)
        return rc;
    rc = xu_upload_temp_file(&ef->src.fd, err);
    if (rc == 0)
        rc = xu_omemo_file_encrypt(in, ef->src.fd, ef->key, ef->iv, until, &ef->src.size,
                                   ef->label, err);
    if (rc == 0 && lseek(ef->src.fd, 0, SEEK_SET) < 0)
        rc = xu_error_set(err, XU_EX_IOERR, "cannot rewind the temporary file: %s",
                          strerror(errno));
    if (in != 0)
        close(in);
    if (rc == 0)
        xu_info("%s encrypted (AES-256-GCM): %llu bytes to upload", ef->label, ef->src.size);
    return rc;
}

/* The upload engine checked that get_url is https:// without a fragment. */
static char *share_url(void *state, const char *get_url)
{
    struct enc_file *ef = state;

    return xu_omemo_file_url(get_url, ef->iv, ef->key);
}

static void close_file(void *state)
{
    struct enc_file *ef = state;

    if (ef->src.fd >= 0)
        close(ef->src.fd);
    OPENSSL_cleanse(ef, sizeof *ef);
}

int xu_omemo_upload_files(const struct xu_opts *opts, struct xu_upload_file *files, int n,
                          double until, int progress, struct xu_error *err)
{
    static const struct xu_upload_kind encrypted = {sizeof(struct enc_file), encrypt_file,
                                                    share_url, close_file};

    return xu_upload_files_as(&encrypted, opts, files, n, until, progress, err);
}
