/* Options shared by every tool, and the one option table that drives
 * getopt_long, --help and the config file keys. */
#ifndef XU_OPTS_H
#define XU_OPTS_H

#include <stddef.h>

#include "base/error.h"

enum xu_tls_mode { XU_TLS_STARTTLS, XU_TLS_DIRECT, XU_TLS_OFF };

enum xu_pw_source {
    XU_PW_NONE,      /* not configured: XMPP_PASSWORD, then a tty prompt */
    XU_PW_CONFIG,    /* `password` in the config file */
    XU_PW_FILE,      /* --password-file / password_file */
    XU_PW_EVAL,      /* --passwordeval / passwordeval */
};

struct xu_opts {
    const char *config_path; /* -C; NULL: the default path, if it exists */
    const char *account;     /* -a; NULL: `account default`, else `defaults` */
    char *jid;
    char *host;
    unsigned port;           /* 0: SRV / default */
    char *resource;
    enum xu_tls_mode tls;
    char *tls_trust_file;
    char *tls_fingerprint;   /* normalised: 64 lowercase hex digits */
    int tls_insecure;
    enum xu_pw_source pw_source;
    char *pw_value;          /* the password (CONFIG), path (FILE) or command (EVAL) */
    int pw_from_config;      /* pw_source was set by the config file */
    double timeout;          /* seconds, whole run */
    double timeout_config;   /* the timeout before the command line (config file or default) */
    int timeout_cli;         /* --timeout was given on the command line */
    char *trace;             /* file, "-" = stderr */
    char *component;         /* component domain: XEP-0114 session instead of c2s */
    char *secret_file;       /* component secret */
    char *sasl_mechanisms;   /* --sasl-mechanisms: allowed SASL mechanisms; NULL = the default set */
    int accept_mechanism_change; /* --accept-mechanism-change: no downgrade refusal, remember the new one */
    int no_sasl_cache;       /* --no-sasl-cache: neither use nor keep the SCRAM salted password */
};

/* Option flags */
#define XU_OPT_ARG 1       /* takes an argument */
#define XU_OPT_NOCONFIG 2  /* not accepted as a config file key */
#define XU_OPT_REPEAT 4    /* may be given several times (documentation only) */

/* Where an option's value goes. XU_STORE_CALL: the tool's apply function
 * handles it. The others write it straight into the tool's configuration
 * (struct xu_tool.state, at .off), checked, so that a tool's option table
 * fills its engine's configuration with no copying in between; the tool's
 * apply function, when it has one, is still called after the store (for
 * checks that need more than a range). */
enum xu_store {
    XU_STORE_CALL,
    XU_STORE_FLAG,     /* int: 1 when given ("on" in the config file; "off" leaves it) */
    XU_STORE_STRING,   /* char *: strdup'ed, the previous value freed */
    XU_STORE_UINT,     /* unsigned long in [min, max] */
    XU_STORE_DURATION, /* double seconds in [min, max] (xu_parse_duration) */
    XU_STORE_COUNT,    /* int: one more each time it is given */
};

struct xu_option {
    const char *name;   /* long name; its config key is the same with '_' for '-' */
    int short_name;     /* 0: none */
    int flags;
    int id;             /* passed to the handler; tools use ids >= 1000 */
    const char *argname;
    const char *help;
    enum xu_store store;
    size_t off;         /* offsetof the field in the tool's configuration */
    double min, max;    /* XU_STORE_UINT, XU_STORE_DURATION */
};

/* The tail of a table entry: handled by the tool's apply function, or
 * stored into FIELD of the configuration struct TYPE. */
#define XU_CALL .store = XU_STORE_CALL
#define XU_TO(kind, type, field) .store = (kind), .off = offsetof(type, field)
#define XU_TO_RANGE(kind, type, field, lo, hi) XU_TO(kind, type, field), .min = (lo), .max = (hi)

/* A tool: its own options and the function that applies one of them. */
struct xu_tool {
    const char *name;
    const char *synopsis;   /* after the program name, e.g. "[options] RECIPIENT..." */
    const char *summary;    /* one line */
    const struct xu_option *options; /* terminated by { NULL } */
    /* Apply option id with arg (NULL for flags; "on"/"off" from a config file).
     * from_config is 1 when the value comes from the config file. */
    int (*apply)(void *state, int id, const char *arg, int from_config,
                 struct xu_error *err);
    void *state;            /* the configuration XU_TO entries write into */
    const char *exit_notes; /* extra lines for --help's exit status part, or NULL */
    /* When not NULL: bit (id - 1000) is set for each tool option given on
     * the command line (not by the config file), for cross-option checks
     * that must tell "asked for here" from "a setting"; ids < 1064. */
    unsigned long long *given;
};

/* Was tool option id given on the command line (needs tool->given)? */
int xu_opts_given(const struct xu_tool *tool, int id);
/* The long name of the first of ids (0-terminated) given on the command
 * line, for "--X does not go with --Y"; NULL when none was. */
const char *xu_opts_given_of(const struct xu_tool *tool, const int *ids);

/* Parse argv: --help/--version print and exit 0; then the config file
 * (account chosen by -a/-C) is loaded, then command-line options override it.
 * On success *first_arg is the index of the first operand. */
int xu_opts_parse(struct xu_opts *o, const struct xu_tool *tool, int argc,
                  char **argv, int *first_arg, struct xu_error *err);

/* Every tool's first step: the standard descriptors made safe
 * (base/stdfds.h: before anything opens a file or a socket), then
 * xu_opts_parse. When /dev/null cannot be opened for a closed descriptor
 * it returns XU_EX_OSERR without parsing anything. */
int xu_opts_start(struct xu_opts *o, const struct xu_tool *tool, int argc, char **argv,
                  int *first_arg, struct xu_error *err);

/* Release what xu_opts_parse allocated; wipes the password. */
void xu_opts_free(struct xu_opts *o);

/* Parse a number in [min, max]; used for every numeric option. */
int xu_parse_uint(const char *s, unsigned long min, unsigned long max,
                  unsigned long *out);
/* Seconds with optional fraction and unit suffix ms, s, m, h ("2s", "500ms"). */
int xu_parse_duration(const char *s, double min, double max, double *out);
/* "on"/"off"/"yes"/"no"/"true"/"false"/"1"/"0"; -1 if none of them. */
int xu_parse_bool(const char *s);

/* All config keys any xmpputils tool accepts, so a config shared by the tools
 * can carry keys for the others while a typo is still an error. */
int xu_config_key_known(const char *key);

#endif
