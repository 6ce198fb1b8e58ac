/* The exporter's modules: each `probe NAME` section of the config file is
 * turned into command-line options (key -> --key=value) after the
 * exporter's own, and parsed by the tool's option table into a struct
 * probe_opts and struct xu_opts of its own, with its own TLS context, when
 * the exporter starts and on SIGHUP; a worker process probes with them. */
#include "probe/probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/config.h"
#include "base/jid.h"
#include "base/msg.h"
#include "probe/pool.h"
#include "probe/serve.h"
#include "probe/tls.h"
#include "base/secret.h"
#include "xmpp/session.h"

struct module_priv {
    char **argv;           /* the module as command-line options (kept: opts point into it) */
    int argc;
    struct xu_opts o;
    struct probe_opts po;
    SSL_CTX *tls;
    int parsed;
};

struct serve_ctx {
    const struct xu_tool *tool;
    char **base;           /* the exporter's own options, minus --serve & co. */
    int nbase;
    const char *config;    /* -C, or the default path */
    int explicit_config;   /* -C given */
    /* modules being loaded */
    struct {
        char name[64];
        char **args;
        int nargs, line;
    } *pending;
    size_t npending;
};

static int add_arg(char ***args, int *n, const char *a)
{
    char **p = realloc(*args, (size_t)(*n + 2) * sizeof **args);

    if (!p)
        return -1;
    *args = p;
    p[*n] = strdup(a);
    if (!p[*n])
        return -1;
    p[++*n] = NULL;
    return 0;
}

/* A config key of a module as a command-line option. */
static int module_key(void *ud, const char *module, const char *key, const char *value,
                      const char *file, int line, struct xu_error *err)
{
    static const char *const not_here[] = {"serve", "allow_target", "targets", "output",
                                           "parallel", "nagios", "prometheus", "format",
                                           "all_targets", "trace", "config", NULL};
    struct serve_ctx *sc = ud;
    const struct xu_option *opt;
    char name[128], arg[1200];
    int flag = -1, i, b;

    if (!key) {
        void *p;

        if (strlen(module) >= sizeof sc->pending[0].name)
            return xu_error_set(err, XU_EX_CONFIG, "%s:%d: module name too long", file, line);
        for (size_t k = 0; k < sc->npending; k++)
            if (strcmp(sc->pending[k].name, module) == 0)
                return xu_error_set(err, XU_EX_CONFIG, "%s:%d: module '%s' defined twice (also line %d)",
                                    file, line, module, sc->pending[k].line);
        p = realloc(sc->pending, (sc->npending + 1) * sizeof *sc->pending);
        if (!p)
            return xu_error_set(err, XU_EX_OSERR, "out of memory");
        sc->pending = p;
        memset(&sc->pending[sc->npending], 0, sizeof *sc->pending);
        snprintf(sc->pending[sc->npending].name, sizeof sc->pending[0].name, "%s", module);
        sc->pending[sc->npending].line = line;
        sc->npending++;
        return 0;
    }
    for (i = 0; not_here[i]; i++)
        if (strcmp(key, not_here[i]) == 0)
            return xu_error_set(err, XU_EX_CONFIG, "%s:%d: '%s' is not a key of a probe module",
                                file, line, key);
    snprintf(name, sizeof name, "%s", key);
    for (char *p = name; *p; p++)
        if (*p == '_')
            *p = '-';
    for (opt = sc->tool->options; opt && opt->name; opt++)
        if (strcmp(opt->name, name) == 0)
            flag = !(opt->flags & XU_OPT_ARG);
    if (strcmp(name, "tls-insecure") == 0)
        flag = 1;
    if (strcmp(name, "account") == 0)
        snprintf(arg, sizeof arg, "--account=%s", value);
    else if (flag == 1) {
        if ((b = xu_parse_bool(value)) < 0)
            return xu_error_set(err, XU_EX_CONFIG, "%s:%d: %s: expected on or off, not '%s'", file,
                                line, key, value);
        if (!b)
            return 0;
        snprintf(arg, sizeof arg, "--%s", name);
    } else
        snprintf(arg, sizeof arg, "--%s=%s", name, value);
    if (add_arg(&sc->pending[sc->npending - 1].args, &sc->pending[sc->npending - 1].nargs, arg) < 0)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    return 0;
}

static void serve_free_module(void *ud, struct probe_module *m)
{
    struct module_priv *mp = m->priv;
    int i;

    (void)ud;
    if (!mp)
        return;
    if (mp->parsed) {
        probe_opts_free(&mp->po);
        xu_opts_free(&mp->o);
    }
    if (mp->tls)
        SSL_CTX_free(mp->tls);
    for (i = 1; i < mp->argc; i++)
        free(mp->argv[i]);
    free(mp->argv);
    free(mp);
    m->priv = NULL;
}

/* Parse one module: the exporter's options, then the module's. */
static int module_parse(struct serve_ctx *sc, const char *name, char **args, int nargs,
                        int line, struct probe_module *m, struct xu_error *err)
{
    struct module_priv *mp = calloc(1, sizeof *mp);
    struct xu_tool tool = *sc->tool;
    char msg[sizeof err->msg];
    int i, first = 0, rc = 0;

    snprintf(m->name, sizeof m->name, "%s", name);
    m->priv = mp;
    if (!mp)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    mp->argv = calloc((size_t)(sc->nbase + nargs + 2), sizeof *mp->argv);
    if (!mp->argv)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    /* a literal: xu_opts_parse keeps argv[0] as the program's name */
    mp->argv[mp->argc++] = (char *)"xmpp-probe";
    for (i = 0; i < sc->nbase; i++)
        mp->argv[mp->argc++] = strdup(sc->base[i]);
    for (i = 0; i < nargs; i++)
        mp->argv[mp->argc++] = strdup(args[i]);
    for (i = 0; i < mp->argc; i++)
        if (!mp->argv[i])
            return xu_error_set(err, XU_EX_OSERR, "out of memory");
    probe_opts_init(&mp->po);
    tool.state = &mp->po;
    rc = xu_opts_parse(&mp->o, &tool, mp->argc, mp->argv, &first, err);
    mp->parsed = 1;
    if (rc == 0 && first < mp->argc)
        rc = xu_error_set(err, XU_EX_CONFIG, "unexpected '%s'", mp->argv[first]);
    if (rc == 0 && mp->po.mode != PROBE_C2S && mp->po.mode != PROBE_S2S)
        rc = xu_error_set(err, XU_EX_CONFIG, "mode %s is not served by the exporter (c2s or s2s)",
                          probe_mode_name(mp->po.mode));
    if (rc == 0 && mp->po.mode == PROBE_C2S && !mp->po.no_login && mp->o.jid &&
        strchr(mp->o.jid, '@') && mp->o.pw_source == XU_PW_NONE && !getenv("XMPP_PASSWORD"))
        rc = xu_error_set(err, XU_EX_CONFIG, "it logs in as %s but has no password "
                          "(password, password_file or passwordeval), and an exporter cannot ask",
                          mp->o.jid);
    if (rc == 0)
        rc = probe_tls_ctx(&mp->tls, mp->o.tls_trust_file, err);
    m->timeout = mp->o.timeout > 0 ? mp->o.timeout : XU_CONNECT_TIMEOUT;
    if (rc) {
        if (line)
            snprintf(msg, sizeof msg, "%s:%d: probe module '%s': %s", sc->config, line, name,
                     err->msg);
        else
            snprintf(msg, sizeof msg, "probe module '%s': %s", name, err->msg);
        xu_error_replace(err, XU_EX_CONFIG, "%s", msg);
        return XU_EX_CONFIG;
    }
    return 0;
}

static int serve_load(void *ud, struct probe_modules *out, struct xu_error *err)
{
    struct serve_ctx *sc = ud;
    size_t i;
    int rc = 0, have_default = 0, j;
    char *no_login[] = {"--no-login", NULL};

    sc->npending = 0;
    sc->pending = NULL;
    /* -C names a file that must be there; the default path may be missing */
    if (sc->config && (sc->explicit_config || access(sc->config, F_OK) == 0))
        rc = xu_config_probe_modules(sc->config, module_key, sc, err);
    out->m = calloc(sc->npending + 1, sizeof *out->m);
    if (rc == 0 && !out->m)
        rc = xu_error_set(err, XU_EX_OSERR, "out of memory");
    for (i = 0; rc == 0 && i < sc->npending; i++) {
        rc = module_parse(sc, sc->pending[i].name, sc->pending[i].args, sc->pending[i].nargs,
                          sc->pending[i].line, &out->m[out->n++], err);
        have_default |= strcmp(sc->pending[i].name, "default") == 0;
    }
    /* without a `probe default` section: c2s without login */
    if (rc == 0 && !have_default)
        rc = module_parse(sc, "default", no_login, 1, 0, &out->m[out->n++], err);
    for (i = 0; i < sc->npending; i++) {
        for (j = 0; j < sc->pending[i].nargs; j++)
            free(sc->pending[i].args[j]);
        free(sc->pending[i].args);
    }
    free(sc->pending);
    sc->pending = NULL;
    sc->npending = 0;
    return rc;
}

static int serve_check_target(void *ud, const char *target, char *why, size_t len)
{
    struct probe_spec sp;
    struct xu_error err = {0, ""};

    (void)ud;
    if (probe_spec_parse(target, &sp, &err) == 0)
        return 0;
    snprintf(why, len, "%s", err.msg);
    return -1;
}

/* In the worker process. */
static json_t *serve_probe(void *ud, const struct probe_module *m, const char *target,
                           double timeout)
{
    struct module_priv *mp = m->priv;
    struct probe_run_ctx x;
    struct probe_spec sp;
    struct probe_report r;
    struct xu_error err = {0, ""};
    char *password = NULL, jd[1024];
    json_t *doc;

    (void)ud;
    memset(&x, 0, sizeof x);
    if (probe_spec_parse(target, &sp, &err) != 0)
        return NULL;
    mp->o.timeout = timeout;
    if (mp->po.mode == PROBE_C2S && !mp->po.no_login && mp->o.jid && strchr(mp->o.jid, '@') &&
        xu_jid_domain(mp->o.jid, jd, sizeof jd) && strcasecmp(jd, sp.domain) == 0 &&
        xu_password_get(&mp->o, mp->o.jid, &password, &err) != 0) {
        probe_report_init(&r, sp.domain, probe_mode_name(mp->po.mode));
        json_object_set_new(r.root, "target", probe_jstr(sp.text));
        probe_fail(&r, "configuration", -1, &err);
        probe_report_finish(&r);
    } else {
        x.po = &mp->po;
        x.o = &mp->o;
        x.tls = mp->tls;
        x.password = password;
        x.several = 1;
        x.timeout = timeout;
        probe_one(&x, &sp, NULL, &r);
    }
    doc = probe_report_json(&r);
    probe_report_free(&r);
    xu_secret_free(password);
    return doc;
}

int probe_serve_main(const struct xu_tool *tool, struct probe_opts *po, int argc, char **argv,
                     int first, const struct xu_opts *o, struct xu_error *err)
{
    struct probe_serve_cfg cfg;
    struct serve_ctx sc;
    char path[4096];
    int i, rc;

    if (first < argc)
        return xu_error_set(err, XU_EX_USAGE, "--serve takes no target: Prometheus names them "
                            "(/probe?target=...)");
    if (po->targets_file || po->all_targets || po->output || po->nagios || po->prometheus)
        return xu_error_set(err, XU_EX_USAGE, "--serve answers in Prometheus format over HTTP: "
                            "--targets, --all-targets, --output, --nagios and --prometheus are for a run");
    memset(&sc, 0, sizeof sc);
    sc.tool = tool;
    sc.base = calloc((size_t)argc + 1, sizeof *sc.base);
    if (!sc.base)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    /* getopt has put the options first: keep those for every module */
    for (i = 1; i < first; i++) {
        static const char *const own[] = {"--serve", "--allow-target", "--parallel"};
        int skip = 0;

        if (strcmp(argv[i], "--") == 0)
            continue;
        for (size_t k = 0; k < 3; k++) {
            size_t l = strlen(own[k]);

            if (strcmp(argv[i], own[k]) == 0)
                skip = 2;
            else if (strncmp(argv[i], own[k], l) == 0 && argv[i][l] == '=')
                skip = 1;
        }
        if (skip) {
            i += skip - 1;
            continue;
        }
        sc.base[sc.nbase++] = argv[i];
    }
    if (o->config_path) {
        sc.config = o->config_path;
        sc.explicit_config = 1;
    }
    else if (xu_config_default_path(path, sizeof path) == 0)
        sc.config = path;
    memset(&cfg, 0, sizeof cfg);
    cfg.listen = po->serve;
    cfg.parallel = (unsigned)po->parallel;
    cfg.allow = po->allow;
    cfg.nallow = po->nallow;
    cfg.ud = &sc;
    cfg.load = serve_load;
    cfg.free_module = serve_free_module;
    cfg.check_target = serve_check_target;
    cfg.probe = serve_probe;
    rc = probe_serve_run(&cfg, err);
    free(sc.base);
    return rc;
}
