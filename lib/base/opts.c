/* The common options' table and the one interpreter of every tool's table:
 * getopt_long built from it, config-file keys checked and applied through
 * it, --help printed from it, typed values stored, and the parsers of
 * numbers, durations and booleans. One file on purpose (~650 lines): the
 * command line, the config file and --help must read the same table through
 * the same apply functions, and a new common option is one line here. */
#include "base/opts.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "base/mechanisms.h"
#include "base/stdfds.h"
#include "base/jid.h"
#include "base/msg.h"
#include "base/secret.h"

enum {
    O_ACCOUNT = 1, O_CONFIG, O_JID, O_HOST, O_PORT, O_RESOURCE, O_TLS,
    O_TLS_TRUST_FILE, O_TLS_FINGERPRINT, O_TLS_INSECURE, O_PASSWORD_FILE,
    O_PASSWORDEVAL, O_TIMEOUT, O_TRACE, O_COMPONENT, O_SECRET_FILE, O_VERBOSE,
    O_QUIET, O_HELP, O_VERSION, O_SASL_MECHANISMS, O_ACCEPT_MECH_CHANGE, O_NO_SASL_CACHE,
};

static const struct xu_option common_options[] = {
    {"account", 'a', XU_OPT_ARG | XU_OPT_NOCONFIG, O_ACCOUNT, "NAME", "use this account from the config file", XU_CALL},
    {"config", 'C', XU_OPT_ARG | XU_OPT_NOCONFIG, O_CONFIG, "FILE", "config file (default $XDG_CONFIG_HOME/xmpputils/config)", XU_CALL},
    {"jid", 'j', XU_OPT_ARG, O_JID, "JID", "log in as this JID (user@domain)", XU_CALL},
    {"host", 0, XU_OPT_ARG, O_HOST, "HOST", "connect to HOST instead of the JID's domain (no SRV lookup)", XU_CALL},
    {"port", 0, XU_OPT_ARG, O_PORT, "N", "TCP port (default 5222, direct TLS 5223, component 5347)", XU_CALL},
    {"resource", 'r', XU_OPT_ARG, O_RESOURCE, "RES", "ask the server for this resource", XU_CALL},
    {"tls", 0, XU_OPT_ARG, O_TLS, "MODE", "starttls (default, required), direct, or off (plaintext!)", XU_CALL},
    {"tls-trust-file", 0, XU_OPT_ARG, O_TLS_TRUST_FILE, "FILE", "trust the CA certificates in FILE (besides the system store)", XU_CALL},
    {"tls-fingerprint", 0, XU_OPT_ARG, O_TLS_FINGERPRINT, "SHA256", "require the server certificate's SHA-256 fingerprint (hex)", XU_CALL},
    {"tls-insecure", 0, 0, O_TLS_INSECURE, NULL, "do NOT verify the server certificate (dangerous)", XU_CALL},
    {"password-file", 0, XU_OPT_ARG, O_PASSWORD_FILE, "FILE", "read the password from the first line of FILE", XU_CALL},
    {"passwordeval", 0, XU_OPT_ARG, O_PASSWORDEVAL, "CMD", "run CMD and use the first line of its output as password", XU_CALL},
    {"timeout", 0, XU_OPT_ARG, O_TIMEOUT, "SECONDS", "deadline for the whole run (default 30; 0: none once connected)", XU_CALL},
    {"trace", 0, XU_OPT_ARG, O_TRACE, "FILE", "write the XMPP transcript to FILE ('-' = stderr), secrets redacted", XU_CALL},
    {"component", 0, XU_OPT_ARG, O_COMPONENT, "DOMAIN", "connect as XEP-0114 component DOMAIN (needs --host, --secret-file)", XU_CALL},
    {"secret-file", 0, XU_OPT_ARG, O_SECRET_FILE, "FILE", "component secret: first line of FILE", XU_CALL},
    {"sasl-mechanisms", 0, XU_OPT_ARG, O_SASL_MECHANISMS, "LIST", "allow only these SASL mechanisms (comma-separated; DIGEST-MD5 only when named)", XU_CALL},
    {"accept-mechanism-change", 0, 0, O_ACCEPT_MECH_CHANGE, NULL, "log in although the server no longer offers the mechanism used before", XU_CALL},
    {"no-sasl-cache", 0, 0, O_NO_SASL_CACHE, NULL, "neither use nor keep the SCRAM salted password in the state directory", XU_CALL},
    {"verbose", 'v', XU_OPT_NOCONFIG, O_VERBOSE, NULL, "say more on stderr (repeat for more)", XU_CALL},
    {"quiet", 'q', XU_OPT_NOCONFIG, O_QUIET, NULL, "print only errors on stderr", XU_CALL},
    {"help", 'h', XU_OPT_NOCONFIG, O_HELP, NULL, "show this help and exit", XU_CALL},
    {"version", 'V', XU_OPT_NOCONFIG, O_VERSION, NULL, "show the version and exit", XU_CALL},
    {NULL, 0, 0, 0, NULL, NULL, XU_CALL},
};

/* Keys of every tool's options, so that one config file can serve all tools
 * while a misspelt key is still caught. Keep in step with cmd/. */
static const char *const other_tool_keys[] = {
    "message", "subject", "type", "thread", "lang", "muc", "nick", "room_password_file",
    "no_create", "lines", "retry", "buffer", "rate", "batch", "max_size", "receipt",
    "xml", "strict", "format", "presence", "status", "no_presence", "kind", "from",
    "xpath", "room", "history", "own", "reconnect", "idle", "count", "keepalive",
    "stdio", "iq", "query", "mode", "warn_days", "crit_days", "warn_ms", "crit_ms",
    "expect_mechanism", "forbid_mechanism", "expect_feature", "nagios", "prometheus",
    "ipv4", "ipv6", "body", "one_per_line", "parallel",
    "omemo",
    NULL,
};

int xu_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v;

    if (!s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int xu_parse_duration(const char *s, double min, double max, double *out)
{
    char *end;
    double v;

    size_t n, digits;

    /* decimal only: strtod() alone would take 0x10 (16), 1e3, inf or nan */
    if (!s)
        return -1;
    n = strspn(s, "0123456789");
    digits = n;
    if (s[n] == '.') {
        n++;
        digits += strspn(s + n, "0123456789");
        n += strspn(s + n, "0123456789");
    }
    if (digits == 0 || isdigit((unsigned char)s[n]))
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno || !isfinite(v) || end != s + n)
        return -1;
    if (strcmp(end, "ms") == 0)
        v /= 1000;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        v *= 60;
    else if (strcmp(end, "h") == 0)
        v *= 3600;
    else if (*end && strcmp(end, "s") != 0)
        return -1;
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int xu_parse_bool(const char *s)
{
    static const char *const yes[] = {"on", "yes", "true", "1", NULL};
    static const char *const no[] = {"off", "no", "false", "0", NULL};
    int i;

    for (i = 0; yes[i]; i++)
        if (strcasecmp(s, yes[i]) == 0)
            return 1;
    for (i = 0; no[i]; i++)
        if (strcasecmp(s, no[i]) == 0)
            return 0;
    return -1;
}

static const struct xu_option *find_by_key(const struct xu_option *t, const char *key)
{
    char name[64];
    size_t i;

    for (i = 0; key[i] && i < sizeof name - 1; i++)
        name[i] = key[i] == '_' ? '-' : key[i];
    name[i] = '\0';
    for (; t && t->name; t++)
        if (strcmp(t->name, name) == 0)
            return t;
    return NULL;
}

int xu_config_key_known(const char *key)
{
    size_t i;

    if (strcmp(key, "password") == 0)
        return 1;
    if (find_by_key(common_options, key))
        return 1;
    for (i = 0; other_tool_keys[i]; i++)
        if (strcmp(other_tool_keys[i], key) == 0)
            return 1;
    return 0;
}

static int set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = strdup(v);
    return *dst ? 0 : -1;
}

static int set_password(struct xu_opts *o, enum xu_pw_source src, const char *v)
{
    xu_secret_free(o->pw_value);
    o->pw_source = src;
    o->pw_value = strdup(v);
    return o->pw_value ? 0 : -1;
}

/* "AB:cd:…" or "abcd…" → 64 lowercase hex digits. */
static int normalise_fingerprint(const char *in, char **out)
{
    char buf[65];
    size_t n = 0;

    for (; *in; in++) {
        if (*in == ':')
            continue;
        if (!isxdigit((unsigned char)*in) || n == 64)
            return -1;
        buf[n++] = (char)tolower((unsigned char)*in);
    }
    if (n != 64)
        return -1;
    buf[n] = '\0';
    return set_str(out, buf);
}

/* Apply one common option; where says where the value came from for messages. */
static int apply_common(struct xu_opts *o, int id, const char *arg, const char *where,
                        struct xu_error *err)
{
    int code = where[0] == '-' ? XU_EX_USAGE : XU_EX_CONFIG;
    unsigned long n;
    int rc = 0;

    switch (id) {
    case O_JID: {
        char why[128], *prepped;

        /* one spelling of a JID everywhere (jid.h) */
        if (xu_jid_prep(arg, 0, &prepped, why, sizeof why) < 0)
            return xu_error_set(err, code, "%s: invalid JID '%s': %s", where, arg, why);
        free(o->jid);
        o->jid = prepped;
        break;
    }
    case O_HOST: rc = set_str(&o->host, arg); break;
    case O_PORT:
        if (xu_parse_uint(arg, 1, 65535, &n) < 0)
            return xu_error_set(err, code, "%s: port must be a number from 1 to 65535, not '%s'", where, arg);
        o->port = (unsigned)n;
        break;
    case O_RESOURCE: rc = set_str(&o->resource, arg); break;
    case O_TLS:
        if (strcmp(arg, "starttls") == 0)
            o->tls = XU_TLS_STARTTLS;
        else if (strcmp(arg, "direct") == 0)
            o->tls = XU_TLS_DIRECT;
        else if (strcmp(arg, "off") == 0)
            o->tls = XU_TLS_OFF;
        else
            return xu_error_set(err, code, "%s: tls must be starttls, direct or off, not '%s'", where, arg);
        break;
    case O_TLS_TRUST_FILE: rc = set_str(&o->tls_trust_file, arg); break;
    case O_TLS_FINGERPRINT:
        if (normalise_fingerprint(arg, &o->tls_fingerprint) < 0)
            return xu_error_set(err, code,
                                "%s: the fingerprint must be a SHA-256 in hex (64 digits, colons allowed)", where);
        break;
    case O_TLS_INSECURE: o->tls_insecure = 1; break;
    case O_PASSWORD_FILE:
        rc = set_password(o, XU_PW_FILE, arg);
        o->pw_from_config = code == XU_EX_CONFIG;
        break;
    case O_PASSWORDEVAL:
        rc = set_password(o, XU_PW_EVAL, arg);
        o->pw_from_config = code == XU_EX_CONFIG;
        break;
    case O_TIMEOUT:
        if (xu_parse_duration(arg, 0, 86400 * 365, &o->timeout) < 0 ||
            (o->timeout > 0 && o->timeout < 0.1))
            return xu_error_set(err, code, "%s: timeout must be 0 (no deadline once connected) or a duration from 0.1 s to 1 year (e.g. 30, 2.5, 500ms, 5m), not '%s'", where, arg);
        o->timeout_cli = code == XU_EX_USAGE;
        break;
    case O_TRACE: rc = set_str(&o->trace, arg); break;
    case O_COMPONENT: rc = set_str(&o->component, arg); break;
    case O_SECRET_FILE: rc = set_str(&o->secret_file, arg); break;
    case O_ACCEPT_MECH_CHANGE: o->accept_mechanism_change = 1; break;
    case O_NO_SASL_CACHE: o->no_sasl_cache = 1; break;
    case O_SASL_MECHANISMS: {
        char why[300];

        if (xu_sasl_check_list(arg, why, sizeof why) < 0)
            return xu_error_set(err, code, "%s: %s", where, why);
        rc = set_str(&o->sasl_mechanisms, arg);
        break;
    }
    case O_VERBOSE: xu_verbosity = xu_verbosity < 0 ? 1 : xu_verbosity + 1; break;
    case O_QUIET: xu_verbosity = -1; break;
    default: return xu_error_set(err, XU_EX_SOFTWARE, "unhandled option %d", id);
    }
    return rc ? xu_error_set(err, XU_EX_OSERR, "out of memory") : 0;
}

struct config_ctx {
    struct xu_opts *o;
    const struct xu_tool *tool;
};

/* A JID, resource, component domain or host from the config file is
 * checked here, where the file and line are known (78), not at login
 * (which could only say 64, or look the bad name up: 68). */
static int check_config_name(int id, const char *key, const char *value, const char *where,
                             struct xu_error *err)
{
    char why[128], *full = NULL;
    const char *p;
    int bad = 0;

    if (id == O_HOST) {
        for (p = value; *p && !bad; p++)
            bad = (unsigned char)*p <= ' ' || *p == 0x7f;
        snprintf(why, sizeof why, "a host name has no spaces or control characters");
    } else {
        if (id == O_RESOURCE && asprintf(&full, "node@domain/%s", value) < 0)
            return xu_error_set(err, XU_EX_OSERR, "out of memory");
        bad = xu_jid_check(full ? full : value, 0, why, sizeof why) < 0;
        free(full);
        if (!bad && id == O_COMPONENT && strpbrk(value, "@/")) {
            bad = 1;
            snprintf(why, sizeof why, "a component is a domain (no '@' or '/')");
        }
    }
    if (!bad)
        return 0;
    return xu_error_set(err, XU_EX_CONFIG, "%s: invalid %s%s%.64s%s: %s%s", where, key,
                        id != O_RESOURCE ? " '" : "", id != O_RESOURCE ? value : "",
                        id != O_RESOURCE && strlen(value) > 64 ? "...'"
                        : id != O_RESOURCE                     ? "'"
                                                               : "",
                        why,
                        strstr(value, " #") || strstr(value, "\t#")
                            ? " (a comment must be on a line of its own)"
                            : "");
}

/* An option with a typed store: check the value and write it into the
 * tool's configuration; then the tool's apply function, if any. */
static int apply_tool(const struct xu_tool *tool, const struct xu_option *opt, const char *arg,
                      int from_config, const char *where, struct xu_error *err)
{
    char *field;
    int code = from_config ? XU_EX_CONFIG : XU_EX_USAGE;

    if (!opt)
        return xu_error_set(err, XU_EX_SOFTWARE, "%s: not in the option table", where);
    if (!from_config && tool->given && opt->id >= 1000 && opt->id < 1064)
        *tool->given |= 1ull << (opt->id - 1000);
    if (opt->store == XU_STORE_CALL || !tool->state)
        return tool->apply ? tool->apply(tool->state, opt->id, arg, from_config, err) : 0;
    field = (char *)tool->state + opt->off;
    switch (opt->store) {
    case XU_STORE_FLAG:
        *(int *)(void *)field = 1;
        break;
    case XU_STORE_COUNT:
        (*(int *)(void *)field)++;
        break;
    case XU_STORE_STRING: {
        char **dst = (char **)(void *)field, *v = strdup(arg);

        if (!v)
            return xu_error_set(err, XU_EX_OSERR, "out of memory");
        free(*dst);
        *dst = v;
        break;
    }
    case XU_STORE_UINT: {
        unsigned long v;

        if (xu_parse_uint(arg, (unsigned long)opt->min, (unsigned long)opt->max, &v) < 0)
            return xu_error_set(err, code, "%s needs a whole number from %lu to %lu, not '%s'",
                                where, (unsigned long)opt->min, (unsigned long)opt->max, arg);
        *(unsigned long *)(void *)field = v;
        break;
    }
    case XU_STORE_DURATION: {
        double v;

        if (xu_parse_duration(arg, opt->min, opt->max, &v) < 0)
            return xu_error_set(err, code, "%s needs a duration from %g s to %g s (e.g. 30, 2s, "
                                "500ms, 5m), not '%s'", where, opt->min, opt->max, arg);
        *(double *)(void *)field = v;
        break;
    }
    case XU_STORE_CALL:
        break;
    }
    return tool->apply ? tool->apply(tool->state, opt->id, arg, from_config, err) : 0;
}

int xu_opts_given(const struct xu_tool *tool, int id)
{
    return tool->given && id >= 1000 && id < 1064 && ((*tool->given >> (id - 1000)) & 1);
}

const char *xu_opts_given_of(const struct xu_tool *tool, const int *ids)
{
    const struct xu_option *o;

    for (; *ids; ids++)
        if (xu_opts_given(tool, *ids))
            for (o = tool->options; o->name; o++)
                if (o->id == *ids)
                    return o->name;
    return NULL;
}

static const struct xu_option *find_by_id(const struct xu_option *t, int id)
{
    for (; t && t->name; t++)
        if (t->id == id)
            return t;
    return NULL;
}

static int apply_config_key(void *ud, const char *key, const char *value, const char *file,
                            int line, struct xu_error *err)
{
    struct config_ctx *c = ud;
    const struct xu_option *opt;
    char where[512];
    int b;

    snprintf(where, sizeof where, "%s:%d", file, line);
    if (strcmp(key, "password") == 0) {
        c->o->pw_from_config = 1;
        return set_password(c->o, XU_PW_CONFIG, value) ? xu_error_set(err, XU_EX_OSERR, "out of memory") : 0;
    }
    opt = find_by_key(common_options, key);
    if (!opt)
        opt = find_by_key(c->tool->options, key);
    if (!opt || (opt->flags & XU_OPT_NOCONFIG)) {
        /* another tool's key: one config file serves all the tools, and a
         * command-line-only option here may be a setting there */
        if (xu_config_key_known(key))
            return 0;
        return xu_error_set(err, XU_EX_CONFIG, "%s: unknown key '%s'", where, key);
    }
    if (!(opt->flags & XU_OPT_ARG)) {
        b = xu_parse_bool(value);
        if (b < 0)
            return xu_error_set(err, XU_EX_CONFIG, "%s: %s takes on or off, not '%s'", where, key, value);
        if (!b)
            return 0;
        value = NULL;
    } else if (*value == '\0') {
        return xu_error_set(err, XU_EX_CONFIG, "%s: %s needs a value", where, key);
    }
    if (opt->id == O_JID || opt->id == O_RESOURCE || opt->id == O_COMPONENT || opt->id == O_HOST) {
        b = check_config_name(opt->id, key, value, where, err);
        if (b)
            return b;
    }
    if (opt->id < 1000)
        return apply_common(c->o, opt->id, value, where, err);
    b = apply_tool(c->tool, opt, value, 1, key, err);
    /* the tool's message names the option; the file and line say where */
    if (b && strncmp(err->msg, where, strlen(where)) != 0) {
        char msg[sizeof err->msg];

        snprintf(msg, sizeof msg, "%s: %s", where, err->msg);
        xu_error_replace(err, b, "%s", msg);
    }
    return b;
}

static void print_table(FILE *fp, const struct xu_option *t)
{
    char left[64];

    for (; t->name; t++) {
        if (t->short_name)
            snprintf(left, sizeof left, "-%c, --%s%s%s", t->short_name, t->name,
                     t->argname ? " " : "", t->argname ? t->argname : "");
        else
            snprintf(left, sizeof left, "    --%s%s%s", t->name, t->argname ? " " : "",
                     t->argname ? t->argname : "");
        fprintf(fp, "  %-30s %s\n", left, t->help);
    }
}

static void print_help(const struct xu_tool *tool)
{
    static const int codes[] = {XU_EX_OK, XU_EX_USAGE, XU_EX_DATAERR, XU_EX_NOHOST,
                                XU_EX_UNAVAILABLE, XU_EX_TEMPFAIL, XU_EX_PROTOCOL,
                                XU_EX_NOPERM, XU_EX_CONFIG};
    size_t i;

    printf("Usage: %s %s\n%s\n\n", tool->name, tool->synopsis, tool->summary);
    if (tool->options && tool->options->name) {
        printf("Options:\n");
        print_table(stdout, tool->options);
        printf("\n");
    }
    printf("Connection and account options (also config file keys, with _ for -):\n");
    print_table(stdout, common_options);
    printf("\nThe password comes from the config file (password, password_file, passwordeval),\n"
           "--password-file, --passwordeval, the XMPP_PASSWORD environment variable, or a\n"
           "prompt on /dev/tty; never from the command line.\n\nExit status:\n");
    for (i = 0; i < sizeof codes / sizeof codes[0]; i++)
        printf("  %2d  %s\n", codes[i], xu_exit_name(codes[i]));
    if (tool->exit_notes)
        printf("%s", tool->exit_notes);
    printf("\nSee %s(1) and xmpputils(5).\n", tool->name);
}

/* Build getopt_long tables from the common and tool options. */
static int build_getopt(const struct xu_tool *tool, struct option **lopts, char *shorts,
                        size_t shorts_len)
{
    const struct xu_option *tables[2] = {common_options, tool->options};
    size_t n = 0, s = 0, i;
    const struct xu_option *t;

    for (i = 0; i < 2; i++)
        for (t = tables[i]; t && t->name; t++)
            n++;
    *lopts = calloc(n + 1, sizeof **lopts);
    if (!*lopts)
        return -1;
    n = 0;
    shorts[s++] = ':';
    for (i = 0; i < 2; i++)
        for (t = tables[i]; t && t->name; t++) {
            (*lopts)[n].name = t->name;
            (*lopts)[n].has_arg = (t->flags & XU_OPT_ARG) ? required_argument : no_argument;
            (*lopts)[n].val = 0x10000 + t->id;
            n++;
            if (t->short_name && s + 3 < shorts_len) {
                shorts[s++] = (char)t->short_name;
                if (t->flags & XU_OPT_ARG)
                    shorts[s++] = ':';
            }
        }
    shorts[s] = '\0';
    return 0;
}

/* Map a getopt return value to an option id. */
static int option_id(const struct xu_tool *tool, int c)
{
    const struct xu_option *tables[2] = {common_options, tool->options};
    const struct xu_option *t;
    size_t i;

    if (c >= 0x10000)
        return c - 0x10000;
    for (i = 0; i < 2; i++)
        for (t = tables[i]; t && t->name; t++)
            if (t->short_name == c)
                return t->id;
    return -1;
}

static const char *option_text(char **argv, int optidx)
{
    return optidx > 0 && argv[optidx - 1] ? argv[optidx - 1] : "?";
}

int xu_opts_parse(struct xu_opts *o, const struct xu_tool *tool, int argc, char **argv,
                  int *first_arg, struct xu_error *err)
{
    struct option *lopts = NULL;
    char shorts[128], path[4096], where[128];
    struct config_ctx cc = {o, tool};
    char *config_jid = NULL;
    int c, id, rc = 0, explicit_config = 0;

    memset(o, 0, sizeof *o);
    o->timeout = 30;
    xu_msg_init(argv[0]);
    if (build_getopt(tool, &lopts, shorts, sizeof shorts) < 0)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");

    /* First pass: help, version, and which config and account to load. */
    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, shorts, lopts, NULL)) != -1) {
        id = option_id(tool, c);
        if (id == O_HELP) {
            print_help(tool);
            free(lopts);
            /* `-h >/dev/full`: the help was not written */
            exit(fflush(stdout) != 0 || ferror(stdout) ? XU_EX_IOERR : 0);
        } else if (id == O_VERSION) {
            printf("%s (xmpputils) %s\n", tool->name, XU_VERSION);
            free(lopts);
            exit(fflush(stdout) != 0 || ferror(stdout) ? XU_EX_IOERR : 0);
        } else if (id == O_CONFIG) {
            o->config_path = optarg;
            explicit_config = 1;
        } else if (id == O_ACCOUNT) {
            o->account = optarg;
        }
    }

    if (o->config_path)
        snprintf(path, sizeof path, "%s", o->config_path);
    else if (xu_config_default_path(path, sizeof path) < 0)
        path[0] = '\0';
    if (path[0])
        rc = xu_config_load(path, explicit_config || o->account != NULL, o->account,
                            apply_config_key, &cc, err);
    else if (o->account)
        rc = xu_error_set(err, XU_EX_CONFIG, "account '%s' asked for, but neither "
                          "XDG_CONFIG_HOME nor HOME is set", o->account);
    if (rc)
        goto out;
    config_jid = o->jid ? strdup(o->jid) : NULL;
    o->timeout_config = o->timeout;

    /* Second pass: the command line overrides the config file. */
    optind = 0;
    while ((c = getopt_long(argc, argv, shorts, lopts, NULL)) != -1) {
        if (c == '?') {
            rc = xu_error_set(err, XU_EX_USAGE, "unknown option '%s' (see --help)",
                              optopt && optopt < 0x10000 && isprint(optopt)
                                  ? (snprintf(where, sizeof where, "-%c", optopt), where)
                                  : option_text(argv, optind));
            goto out;
        }
        if (c == ':') {
            rc = xu_error_set(err, XU_EX_USAGE, "option '%s' needs an argument",
                              option_text(argv, optind));
            goto out;
        }
        id = option_id(tool, c);
        if (id == O_HELP || id == O_VERSION || id == O_CONFIG || id == O_ACCOUNT)
            continue;
        /* "--opt value": the option is the word before its argument */
        snprintf(where, sizeof where, "%s",
                 optarg && optind >= 2 && argv[optind - 1] == optarg ? argv[optind - 2]
                                                                     : option_text(argv, optind));
        /* for "--opt=value" and "-xVALUE" keep only the option name */
        where[strcspn(where, "=")] = '\0';
        if (id < 1000)
            rc = apply_common(o, id, optarg, where, err);
        else
            rc = apply_tool(tool, find_by_id(tool->options, id), optarg, 0, where, err);
        if (rc)
            goto out;
    }
    *first_arg = optind;

    /* An account's password is for that account's JID only: -j naming
     * another JID must not send it elsewhere. */
    if (o->pw_from_config && config_jid && o->jid && !xu_jid_bare_equal(config_jid, o->jid)) {
        xu_info("not using the config file's password for %s (it belongs to %s)", o->jid,
                config_jid);
        xu_secret_free(o->pw_value);
        o->pw_value = NULL;
        o->pw_source = XU_PW_NONE;
        o->pw_from_config = 0;
    }

    if (o->tls_insecure && o->tls_fingerprint)
        rc = xu_error_set(err, XU_EX_USAGE,
                          "--tls-insecure conflicts with --tls-fingerprint: a pin is a check, "
                          "--tls-insecure turns checks off");
    else if (o->tls == XU_TLS_OFF && o->tls_fingerprint)
        rc = xu_error_set(err, XU_EX_USAGE, "--tls off conflicts with --tls-fingerprint");
out:
    free(config_jid);
    free(lopts);
    return rc;
}

void xu_opts_free(struct xu_opts *o)
{
    free(o->jid);
    free(o->host);
    free(o->resource);
    free(o->tls_trust_file);
    free(o->tls_fingerprint);
    xu_secret_free(o->pw_value);
    free(o->trace);
    free(o->component);
    free(o->secret_file);
    free(o->sasl_mechanisms);
    memset(o, 0, sizeof *o);
}

int xu_opts_start(struct xu_opts *o, const struct xu_tool *tool, int argc, char **argv,
                  int *first_arg, struct xu_error *err)
{
    memset(o, 0, sizeof *o);
    xu_msg_init(argv[0]);
    if (xu_stdfds_init() != 0)
        return xu_error_set(err, XU_EX_OSERR, "cannot open /dev/null for a closed standard "
                            "descriptor");
    return xu_opts_parse(o, tool, argc, argv, first_arg, err);
}
