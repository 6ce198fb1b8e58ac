#include "listen/listen_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/jid.h"

static void entry_free(struct xu_state_entry *e)
{
    free(e->archive);
    free(e->id);
    free(e->since);
}

void xu_listen_state_free(struct xu_listen_state *st)
{
    size_t i;

    for (i = 0; i < st->n; i++)
        entry_free(&st->v[i]);
    free(st->v);
    free(st->path);
    memset(st, 0, sizeof *st);
}

const struct xu_state_entry *xu_listen_state_get(const struct xu_listen_state *st,
                                                 const char *archive)
{
    size_t i;

    for (i = 0; i < st->n; i++)
        if (xu_jid_bare_equal(st->v[i].archive, archive))
            return &st->v[i];
    return NULL;
}

int xu_listen_state_set(struct xu_listen_state *st, const char *archive, const char *id,
                        const char *since)
{
    struct xu_state_entry *e = (struct xu_state_entry *)xu_listen_state_get(st, archive), *nv;
    char *nid = id ? strdup(id) : NULL, *nsince = !id && since ? strdup(since) : NULL;

    if ((id && !nid) || (!id && since && !nsince)) {
        free(nid);
        free(nsince);
        return -1;
    }
    if (!e) {
        nv = realloc(st->v, (st->n + 1) * sizeof *nv);
        if (!nv || !(nv[st->n].archive = strdup(archive))) {
            if (nv)
                st->v = nv;
            free(nid);
            free(nsince);
            return -1;
        }
        st->v = nv;
        e = &st->v[st->n++];
        e->id = e->since = NULL;
    }
    free(e->id);
    free(e->since);
    e->id = nid;
    e->since = nsince;
    return 0;
}

/* A token: no space, no control character. */
static int token_ok(const char *s)
{
    const unsigned char *p;

    if (!*s)
        return 0;
    for (p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return 0;
    return 1;
}

int xu_listen_state_load(struct xu_listen_state *st, const char *path, struct xu_error *err)
{
    FILE *fp;
    char line[2048], *archive, *kind, *value, *extra, *save;
    long lineno = 0;
    int rc = 0;

    memset(st, 0, sizeof *st);
    st->path = strdup(path);
    if (!st->path)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    fp = fopen(path, "r");
    if (!fp) {
        if (errno == ENOENT)
            return 0;
        return xu_error_set(err, XU_EX_IOERR, "cannot read the state file %s: %s", path,
                            strerror(errno));
    }
    while (rc == 0 && fgets(line, sizeof line, fp)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(fp)) {
            rc = xu_error_set(err, XU_EX_DATAERR, "%s: line %ld is too long", path, lineno);
            break;
        }
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        archive = strtok_r(line, " \t", &save);
        kind = strtok_r(NULL, " \t", &save);
        value = strtok_r(NULL, " \t", &save);
        extra = strtok_r(NULL, " \t", &save);
        if (!archive || !kind || !value || extra || !token_ok(archive) || !token_ok(value) ||
            (strcmp(kind, "id") != 0 && strcmp(kind, "since") != 0) ||
            xu_jid_check(archive, 0, NULL, 0) != 0) {
            rc = xu_error_set(err, XU_EX_DATAERR,
                              "%s: line %ld: expected 'ARCHIVE-JID id ID' or 'ARCHIVE-JID since TIME'"
                              " (is this an xmpp-listen state file?)",
                              path, lineno);
            break;
        }
        if (xu_listen_state_set(st, archive, strcmp(kind, "id") == 0 ? value : NULL, value) < 0)
            rc = xu_error_set(err, XU_EX_OSERR, "out of memory");
    }
    if (rc == 0 && ferror(fp))
        rc = xu_error_set(err, XU_EX_IOERR, "cannot read the state file %s: %s", path,
                          strerror(errno));
    fclose(fp);
    return rc;
}

int xu_listen_state_save(const struct xu_listen_state *st, struct xu_error *err)
{
    size_t len = strlen(st->path), i;
    char *tmp = malloc(len + 8);
    FILE *fp = NULL;
    int fd, bad = 0;

    if (!tmp)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    memcpy(tmp, st->path, len);
    memcpy(tmp + len, ".XXXXXX", 8);
    fd = mkstemp(tmp); /* mode 0600, in the same directory: rename is atomic */
    if (fd < 0 || fchmod(fd, 0600) < 0 || !(fp = fdopen(fd, "w"))) {
        int e = errno;

        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        return xu_error_set(err, XU_EX_IOERR, "cannot write the state file %s: %s", st->path,
                            strerror(e));
    }
    if (fputs("# xmpp-listen --state: the last archive id seen per archive\n", fp) == EOF)
        bad = 1;
    for (i = 0; i < st->n && !bad; i++)
        if (fprintf(fp, "%s %s %s\n", st->v[i].archive, st->v[i].id ? "id" : "since",
                    st->v[i].id ? st->v[i].id : st->v[i].since ? st->v[i].since : "1970-01-01T00:00:00Z") < 0)
            bad = 1;
    if (fclose(fp) == EOF)
        bad = 1;
    if (bad || rename(tmp, st->path) < 0) {
        int e = errno;

        unlink(tmp);
        free(tmp);
        return xu_error_set(err, XU_EX_IOERR, "cannot write the state file %s: %s", st->path,
                            strerror(e));
    }
    free(tmp);
    return 0;
}
