/* Files rather than SQLite: two small records per account, each read and
 * replaced whole. rename(2) within one directory is atomic, so concurrent
 * runs cannot corrupt an entry, and no library or lock is needed (SQLite
 * would add a dependency, ~0.5 MB of resident code and its own journal
 * files to every one-shot run for the same guarantee). */
#include "xmpp/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base/msg.h"

static char dir[4096];

const char *xu_state_dir(void)
{
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

    if (dir[0])
        return dir;
    if (xdg && xdg[0] == '/')
        snprintf(dir, sizeof dir, "%s/xmpputils", xdg);
    else if (home && home[0] == '/')
        snprintf(dir, sizeof dir, "%s/.local/state/xmpputils", home);
    else
        return NULL;
    return dir;
}

/* mkdir -p, the last component 0700 */
static int make_dir(void)
{
    char path[4096], *p;

    if (!xu_state_dir())
        return -1;
    snprintf(path, sizeof path, "%s", dir);
    for (p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(path, 0700) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

static int file_name(const char *kind, const char *jid, const char *server, const char *mech,
                     char *out, size_t outlen)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0, i;
    char key[3000], hex[2 * EVP_MAX_MD_SIZE + 1];

    if (!xu_state_dir())
        return -1;
    snprintf(key, sizeof key, "%s\n%s\n%s\n%s", kind, jid, server, mech ? mech : "");
    if (!EVP_Digest(key, strlen(key), md, &n, EVP_sha256(), NULL))
        return -1;
    for (i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    snprintf(out, outlen, "%s/%s-%s", dir, kind, hex);
    return 0;
}

/* Read the whole (small) file into buf; 0, or -1 when absent or unsafe. */
static int read_file(const char *path, char *buf, size_t len)
{
    struct stat st;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 077)) {
        /* someone else's, or readable by others: do not trust it */
        close(fd);
        return -1;
    }
    n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

static int write_file(const char *path, const char *data)
{
    char tmp[4200];
    size_t len = strlen(data);
    int fd, ok;

    if (make_dir() < 0)
        return -1;
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
    fd = mkstemp(tmp); /* 0600 */
    if (fd < 0)
        return -1;
    ok = write(fd, data, len) == (ssize_t)len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int xu_state_get_mech(const char *jid, const char *server, char *out, size_t outlen)
{
    char path[4200], buf[256];

    out[0] = '\0';
    if (file_name("mech", jid, server, NULL, path, sizeof path) < 0 ||
        read_file(path, buf, sizeof buf) < 0)
        return 0;
    buf[strcspn(buf, "\n")] = '\0';
    snprintf(out, outlen, "%s", buf);
    return 0;
}

int xu_state_put_mech(const char *jid, const char *server, const char *mech)
{
    char path[4200], data[3000];

    if (file_name("mech", jid, server, NULL, path, sizeof path) < 0)
        return -1;
    /* the first line is what counts; the rest says what it is for */
    snprintf(data, sizeof data, "%s\n%s on %s\n", mech, jid, server);
    return write_file(path, data);
}

int xu_state_get_salted(const char *jid, const char *server, const char *mech, const char *salt,
                        const char *iter, char *out, size_t outlen)
{
    char path[4200], buf[1024], *f_salt, *f_iter, *f_hex, *save = NULL;
    int hit = 0;

    out[0] = '\0';
    if (!salt || !iter || file_name("scram", jid, server, mech, path, sizeof path) < 0 ||
        read_file(path, buf, sizeof buf) < 0)
        return 0;
    /* salt, iterations, salted password: one per line */
    f_salt = strtok_r(buf, "\n", &save);
    f_iter = f_salt ? strtok_r(NULL, "\n", &save) : NULL;
    f_hex = f_iter ? strtok_r(NULL, "\n", &save) : NULL;
    if (f_hex && strcmp(f_salt, salt) == 0 && strcmp(f_iter, iter) == 0 &&
        strlen(f_hex) < outlen) {
        snprintf(out, outlen, "%s", f_hex);
        hit = 1;
    }
    OPENSSL_cleanse(buf, sizeof buf);
    return hit;
}

int xu_state_put_salted(const char *jid, const char *server, const char *mech, const char *salt,
                        const char *iter, const char *salted_hex)
{
    char path[4200], data[1024];
    int rc;

    if (strpbrk(salt, "\n") || strpbrk(iter, "\n") ||
        file_name("scram", jid, server, mech, path, sizeof path) < 0)
        return -1;
    snprintf(data, sizeof data, "%s\n%s\n%s\n", salt, iter, salted_hex);
    rc = write_file(path, data);
    OPENSSL_cleanse(data, sizeof data);
    return rc;
}

void xu_state_drop_salted(const char *jid, const char *server, const char *mech)
{
    char path[4200];

    if (file_name("scram", jid, server, mech, path, sizeof path) == 0)
        unlink(path);
}
