/* The xmpp-bind engine: log in (or connect as a XEP-0114 component), then
 * one of three jobs: print the bound JID; bridge stanzas between standard
 * input/output and the server (--stdio, lib/bind/bridge.c); or send one iq
 * request and print its answer (--iq, --query). It owns the session, from
 * open to close, and the run's deadline (--timeout counts from the start of
 * xu_bind_run); the configuration stays the caller's. */
#ifndef XU_BIND_H
#define XU_BIND_H

#include "base/error.h"
#include "base/opts.h"

/* Filled by xmpp-bind's option table (typed stores). */
struct xu_bind_cfg {
    int stdio;    /* --stdio: the bridge */
    int iq;       /* --iq: send the <iq> read from stdin */
    int presence; /* --presence: with --stdio, initial presence once bound */
    char *query;  /* --query: the <iq> itself (implies --iq; stdin is not read) */
};

/* Run the job cfg asks for on the account of o: 0, or the error's code
 * (err set: 1 for an error answer to --iq, else a sysexit). The cross-option
 * checks are the caller's. */
int xu_bind_run(const struct xu_opts *o, const struct xu_bind_cfg *cfg, struct xu_error *err);

#endif
