#include "base/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/secret.h"

#define MAX_SECTIONS 256
#define MAX_DEPTH 16

struct kv {
    char *key;
    char *value;
    int line;
};

struct section {
    char *name; /* NULL for `defaults` */
    char *parent;
    int line;
    struct kv *kvs;
    size_t nkv;
};

struct file {
    const char *path;
    struct section sec[MAX_SECTIONS];
    size_t nsec;
    int has_password;
};

static void file_free(struct file *f)
{
    size_t i, j;

    for (i = 0; i < f->nsec; i++) {
        for (j = 0; j < f->sec[i].nkv; j++) {
            free(f->sec[i].kvs[j].key);
            xu_secret_free(f->sec[i].kvs[j].value);
        }
        free(f->sec[i].kvs);
        free(f->sec[i].name);
        free(f->sec[i].parent);
    }
}

int xu_config_default_path(char *buf, size_t len)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int n;

    if (xdg && *xdg)
        n = snprintf(buf, len, "%s/xmpputils/config", xdg);
    else if (home && *home)
        n = snprintf(buf, len, "%s/.config/xmpputils/config", home);
    else
        return -1;
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

static char *trim(char *s)
{
    char *e;

    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* Unquote "…" in place, with \" and \\ escapes. */
static int unquote(char *v)
{
    char *r = v + 1, *w = v;

    if (*v != '"')
        return 0;
    for (; *r && *r != '"'; r++) {
        if (*r == '\\' && (r[1] == '"' || r[1] == '\\'))
            r++;
        *w++ = *r;
    }
    if (*r != '"' || r[1] != '\0')
        return -1;
    *w = '\0';
    return 0;
}

static int add_kv(struct section *s, const char *key, const char *value, int line)
{
    struct kv *n = realloc(s->kvs, (s->nkv + 1) * sizeof *n);

    if (!n)
        return -1;
    s->kvs = n;
    n[s->nkv].key = strdup(key);
    n[s->nkv].value = strdup(value);
    n[s->nkv].line = line;
    if (!n[s->nkv].key || !n[s->nkv].value)
        return -1;
    s->nkv++;
    return 0;
}

/* The line buffer held a password, maybe: wipe all of it. (Not
 * xu_secret_free: after getline() hit the end of an empty file, the buffer
 * it allocated holds no string.) */
static void free_line(char *buf, size_t cap)
{
    if (buf) {
        explicit_bzero(buf, cap);
        free(buf);
    }
}

static struct section *find(struct file *f, const char *name);

static int parse(struct file *f, FILE *fp, struct xu_error *err)
{
    char *buf = NULL, *line, *key, *value;
    size_t cap = 0;
    int lineno = 0;
    struct section *cur = NULL;

    while (getline(&buf, &cap, fp) >= 0) {
        lineno++;
        line = buf;
        /* a UTF-8 byte-order mark (some editors write one) is not part of the first key */
        if (lineno == 1 && strncmp(line, "\xef\xbb\xbf", 3) == 0)
            line += 3;
        line = trim(line);
        if (*line == '\0' || *line == '#')
            continue;
        key = line;
        while (*line && !isspace((unsigned char)*line))
            line++;
        if (*line)
            *line++ = '\0';
        value = trim(line);

        /* `probe NAME`: an xmpp-probe exporter module (see
         * xu_config_probe_modules); its name starts with a space, which no
         * account name has, so that no account lookup finds it. */
        if (strcmp(key, "probe") == 0) {
            /* `probe NAME : ACCOUNT`: the module logs in with ACCOUNT */
            char *colon = strchr(value, ':'), *acct = NULL;

            if (colon) {
                *colon = '\0';
                acct = trim(colon + 1);
                value = trim(value);
            }
            if (f->nsec == MAX_SECTIONS || *value == '\0' || strpbrk(value, " \t") ||
                (acct && (*acct == '\0' || strpbrk(acct, " \t")))) {
                free_line(buf, cap);
                return xu_error_set(err, XU_EX_CONFIG, f->nsec == MAX_SECTIONS
                                    ? "%s:%d: too many sections"
                                    : "%s:%d: expected 'probe NAME' or 'probe NAME : ACCOUNT'",
                                    f->path, lineno);
            }
            cur = &f->sec[f->nsec++];
            memset(cur, 0, sizeof *cur);
            cur->line = lineno;
            cur->parent = acct ? strdup(acct) : NULL;
            cur->name = malloc(strlen(value) + 2);
            if (cur->name)
                sprintf(cur->name, " %s", value);
            continue;
        }
        if (strcmp(key, "defaults") == 0 || strcmp(key, "account") == 0) {
            char *colon, *parent = NULL;

            if (f->nsec == MAX_SECTIONS) {
                free_line(buf, cap);
                return xu_error_set(err, XU_EX_CONFIG, "%s:%d: too many accounts",
                                    f->path, lineno);
            }
            if (*key == 'a') {
                colon = strchr(value, ':');
                if (colon) {
                    *colon = '\0';
                    parent = trim(colon + 1);
                    value = trim(value);
                }
                if (*value == '\0' || strpbrk(value, " \t") ||
                    (parent && (*parent == '\0' || strpbrk(parent, " \t")))) {
                    free_line(buf, cap);
                    return xu_error_set(err, XU_EX_CONFIG,
                                        "%s:%d: expected 'account NAME' or 'account NAME : PARENT'",
                                        f->path, lineno);
                }
            } else if (*value) {
                free_line(buf, cap);
                return xu_error_set(err, XU_EX_CONFIG,
                                    "%s:%d: 'defaults' takes no argument", f->path, lineno);
            }
            if (*key == 'a') {
                struct section *dup = find(f, value);

                if (dup) {
                    int rc = xu_error_set(err, XU_EX_CONFIG,
                                          "%s:%d: account '%s' is already defined at line %d",
                                          f->path, lineno, value, dup->line);
                    free_line(buf, cap);
                    return rc;
                }
            }
            cur = &f->sec[f->nsec++];
            memset(cur, 0, sizeof *cur);
            cur->line = lineno;
            cur->name = *key == 'a' ? strdup(value) : NULL;
            cur->parent = parent ? strdup(parent) : NULL;
            continue;
        }
        if (!cur) {
            /* keys before any section belong to the defaults */
            cur = &f->sec[f->nsec++];
            memset(cur, 0, sizeof *cur);
        }
        if (unquote(value) < 0) {
            /* the message names the key, which lives in buf: free it after */
            int rc = xu_error_set(err, XU_EX_CONFIG, "%s:%d: unterminated quote in value of '%s'",
                                  f->path, lineno, key);
            free_line(buf, cap);
            return rc;
        }
        if (strcmp(key, "password") == 0) {
            if (*value == '\0') {
                int rc = xu_error_set(err, XU_EX_CONFIG,
                                      "%s:%d: empty password (remove the line to be asked, "
                                      "or use password_file or passwordeval)",
                                      f->path, lineno);
                free_line(buf, cap);
                return rc;
            }
            f->has_password = 1;
        }
        if (add_kv(cur, key, value, lineno) < 0) {
            free_line(buf, cap);
            return xu_error_set(err, XU_EX_OSERR, "out of memory");
        }
    }
    if (ferror(fp)) {
        int e = errno;

        free_line(buf, cap);
        return xu_error_set(err, XU_EX_CONFIG, "cannot read config file %s: %s", f->path,
                            strerror(e));
    }
    free_line(buf, cap);
    return 0;
}

static struct section *find(struct file *f, const char *name)
{
    size_t i;
    struct section *found = NULL;

    for (i = 0; i < f->nsec; i++)
        if (f->sec[i].name && strcmp(f->sec[i].name, name) == 0)
            found = &f->sec[i]; /* names are unique (parse refuses a second one) */
    return found;
}

static int apply_section(struct file *f, struct section *s, xu_config_apply_fn apply,
                         void *ud, struct xu_error *err)
{
    size_t i;
    int rc;

    for (i = 0; i < s->nkv; i++) {
        rc = apply(ud, s->kvs[i].key, s->kvs[i].value, f->path, s->kvs[i].line, err);
        if (rc)
            return rc;
    }
    return 0;
}

int xu_config_load(const char *path, int required, const char *account,
                   xu_config_apply_fn apply, void *ud, struct xu_error *err)
{
    struct file f;
    struct section *chain[MAX_DEPTH], *s;
    struct stat st;
    FILE *fp;
    size_t i;
    int depth = 0, rc;

    memset(&f, 0, sizeof f);
    f.path = path;
    fp = fopen(path, "r");
    if (!fp) {
        if (errno == ENOENT && !required)
            return 0;
        if (errno == ENOENT && account)
            return xu_error_set(err, XU_EX_CONFIG,
                                "account '%s' asked for, but there is no config file %s",
                                account, path);
        return xu_error_set(err, XU_EX_CONFIG, "cannot open config file %s: %s", path,
                            strerror(errno));
    }
    if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(fp);
        return xu_error_set(err, XU_EX_CONFIG, "config file %s is a directory", path);
    }
    rc = parse(&f, fp, err);
    if (rc == 0 && fstat(fileno(fp), &st) == 0 && f.has_password) {
        /* Same rule as msmtp: a file with a secret is for its owner's eyes only. */
        if (st.st_mode & (S_IRWXG | S_IRWXO))
            rc = xu_error_set(err, XU_EX_CONFIG,
                              "%s contains a password but is readable by others "
                              "(mode %03o); run: chmod 600 %s",
                              path, (unsigned)(st.st_mode & 0777), path);
        else if (st.st_uid != geteuid())
            rc = xu_error_set(err, XU_EX_CONFIG,
                              "%s contains a password but is owned by another user", path);
    }
    fclose(fp);
    if (rc)
        goto out;

    /* defaults first */
    for (i = 0; i < f.nsec && rc == 0; i++)
        if (f.sec[i].name == NULL)
            rc = apply_section(&f, &f.sec[i], apply, ud, err);
    if (rc)
        goto out;

    s = find(&f, account ? account : "default");
    if (!s) {
        if (account)
            rc = xu_error_set(err, XU_EX_CONFIG, "%s: no account named '%s'", path, account);
        goto out;
    }
    while (s) {
        if (depth == MAX_DEPTH) {
            rc = xu_error_set(err, XU_EX_CONFIG, "%s:%d: account inheritance loop at '%s'",
                              path, s->line, s->name);
            goto out;
        }
        chain[depth++] = s;
        if (!s->parent)
            break;
        s = find(&f, s->parent);
        if (!s) {
            rc = xu_error_set(err, XU_EX_CONFIG, "%s:%d: account '%s' inherits from unknown account '%s'",
                              path, chain[depth - 1]->line, chain[depth - 1]->name,
                              chain[depth - 1]->parent);
            goto out;
        }
    }
    while (depth > 0 && rc == 0)
        rc = apply_section(&f, chain[--depth], apply, ud, err);
out:
    file_free(&f);
    return rc;
}

/* ---- xmpp-probe exporter modules: `probe NAME` sections ---- */

int xu_config_probe_modules(const char *path, xu_config_module_fn fn, void *ud,
                            struct xu_error *err)
{
    struct file f;
    FILE *fp;
    size_t i, j;
    int rc;

    memset(&f, 0, sizeof f);
    f.path = path;
    fp = fopen(path, "r");
    if (!fp)
        return xu_error_set(err, XU_EX_CONFIG, "cannot open config file %s: %s", path,
                            strerror(errno));
    rc = parse(&f, fp, err);
    fclose(fp);
    for (i = 0; i < f.nsec && rc == 0; i++) {
        if (!f.sec[i].name || f.sec[i].name[0] != ' ')
            continue;
        rc = fn(ud, f.sec[i].name + 1, NULL, NULL, path, f.sec[i].line, err);
        if (rc == 0 && f.sec[i].parent)
            rc = fn(ud, f.sec[i].name + 1, "account", f.sec[i].parent, path, f.sec[i].line, err);
        for (j = 0; j < f.sec[i].nkv && rc == 0; j++)
            rc = fn(ud, f.sec[i].name + 1, f.sec[i].kvs[j].key, f.sec[i].kvs[j].value, path,
                    f.sec[i].kvs[j].line, err);
    }
    file_free(&f);
    return rc;
}
