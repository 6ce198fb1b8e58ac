/* The session's life: start (the libstrophe context with wiping memory, the
 * trace, the deadline), open (start, then step until ready), ready (the pin
 * checked, the caller's hook run), close and free. The rest of the session
 * lives in the files session_*.c, each named by its job (session_int.h). */
#include "xmpp/session.h"

#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "base/msg.h"
#include "base/trace.h"
#include "xmpp/negotiate.h"
#include "xmpp/session_int.h"
#include "xmpp/sm.h"
#include "xmpp/tlsinfo.h"

/* libstrophe's socket-option and certificate-failure callbacks carry no
 * user data, so they find the session here: one session per process. */
struct xu_session *xu_session_current;
static struct xu_trace *shared_trace;

/* The deadline alarm may have to break a blocking TLS handshake, which no
 * timer of libstrophe's can: it shuts the socket down, and if even that does
 * not end the run (e.g. stuck in DNS), it exits 75 two seconds later. */
volatile sig_atomic_t xu_session_alarm_stage;
volatile sig_atomic_t xu_session_alarm_sock = -1;
static char alarm_msg[256];

double xu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *xu_phase_name(enum xu_phase p)
{
    static const char *const names[] = {
        "start", "TCP connect", "stream opening", "TLS negotiation", "authentication",
        "resource binding", "session", "closing", "closed",
    };
    return p <= XU_PHASE_CLOSED ? names[p] : "?";
}

/* ---- memory: libstrophe's buffers are wiped when freed (they held the
 * password, SASL state and message text) ---- */

static void *mem_alloc(size_t size, void *ud)
{
    (void)ud;
    return malloc(size);
}

static void mem_free(void *p, void *ud)
{
    (void)ud;
    if (p) {
        explicit_bzero(p, malloc_usable_size(p));
        free(p);
    }
}

static void *mem_realloc(void *p, size_t size, void *ud)
{
    size_t old;
    void *n;

    (void)ud;
    if (!p)
        return malloc(size);
    old = malloc_usable_size(p);
    if (size <= old)
        return p;
    /* libstrophe grows a stanza's text by the size of each piece it
     * reads: give room to grow, or a 10 MB text costs O(n^2) copying and
     * wiping (10 s instead of 0.1 s) */
    if (size > 4096 && size < ((size_t)-1) / 2)
        size += size / 2;
    n = malloc(size);
    if (!n)
        return NULL;
    memcpy(n, p, old);
    mem_free(p, NULL);
    return n;
}

static xmpp_mem_t wiping_mem = {mem_alloc, mem_free, mem_realloc, NULL};

/* ---- deadline alarm ---- */

static void on_alarm(int sig)
{
    (void)sig;
    if (xu_session_alarm_stage == 0) {
        struct itimerval again = {{0, 0}, {2, 0}};

        xu_session_alarm_stage = 1;
        if (xu_session_alarm_sock >= 0)
            shutdown(xu_session_alarm_sock, SHUT_RDWR);
        setitimer(ITIMER_REAL, &again, NULL);
    } else {
        ssize_t r = write(2, alarm_msg, strlen(alarm_msg));
        (void)r;
        _exit(XU_EX_TEMPFAIL);
    }
}

static void arm_alarm(double deadline)
{
    struct itimerval it = {{0, 0}, {0, 0}};
    double left;

    xu_session_alarm_stage = 0;
    if (deadline > 0) {
        left = deadline - xu_now();
        if (left < 0.001)
            left = 0.001;
        /* a little after our own loop's check, which gives the better message */
        left += 0.25;
        it.it_value.tv_sec = (time_t)left;
        it.it_value.tv_usec = (suseconds_t)((left - (double)(time_t)left) * 1e6);
    }
    setitimer(ITIMER_REAL, &it, NULL);
}

void xu_session_share_trace(struct xu_trace *t)
{
    shared_trace = t;
}

void xu_session_set_deadline(struct xu_session *s, double deadline)
{
    s->deadline = deadline;
    arm_alarm(deadline);
}

static void (*ready_hook)(struct xu_session *s, void *ud);
static void *ready_hook_ud;

void xu_session_on_ready(void (*fn)(struct xu_session *s, void *ud), void *ud)
{
    ready_hook = fn;
    ready_hook_ud = ud;
}

void xu_session_became_ready(struct xu_session *s, const char *jid)
{
    /* The pin was checked right after the handshake; a session that got
     * here without a check (e.g. TLS off) must not pass. */
    if (xu_session_check_pin(s) != 0)
        return;
    xu_session_restore_cert_file();
    s->phase = XU_PHASE_READY;
    s->ready = 1;
    xu_session_note_phase(s);
    if (jid != s->bound_jid) {
        free(s->bound_jid);
        s->bound_jid = jid ? strdup(jid) : NULL;
    }
    if (ready_hook)
        ready_hook(s, ready_hook_ud);
    xu_trace_info(s->trace, "session ready as %s", s->bound_jid ? s->bound_jid : "?");
}

/* Counts what arrives, so that xu_session_step can tell that the turn that
 * only writes (run_once with no wait) also read something. */
static int count_rx(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    (void)conn;
    (void)st;
    ((struct xu_session *)ud)->rx_stanzas++;
    return 1;
}

int xu_session_start(struct xu_session *s, const struct xu_opts *o, double deadline,
                     struct xu_error *err)
{
    static int initialised;
    static xmpp_log_t log;
    struct sigaction sa;
    int rc;

    memset(s, 0, sizeof *s);
    s->opts = o;
    s->sock = -1;
    s->is_component = o->component != NULL;
    xu_session_current = s;
    xu_sm_take_resume(s);
    if (!initialised) {
        xmpp_initialize();
        signal(SIGPIPE, SIG_IGN);
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm;
        sigaction(SIGALRM, &sa, NULL);
        initialised = 1;
    }
    snprintf(alarm_msg, sizeof alarm_msg,
             "%s: timed out after %g s (blocked in name resolution or TLS)\n", xu_progname,
             xu_session_shown_timeout(o));
    s->trace = shared_trace;
    s->trace_shared = shared_trace != NULL;
    if (!s->trace && o->trace && (rc = xu_trace_open(&s->trace, o->trace, err)) != 0)
        return rc;
    log.handler = xu_session_log;
    log.userdata = s;
    s->ctx = xmpp_ctx_new(&wiping_mem, &log);
    s->conn = s->ctx ? xmpp_conn_new(s->ctx) : NULL;
    if (!s->conn)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    xmpp_conn_set_sockopt_callback(s->conn, xu_session_sockopt_cb);
    xmpp_handler_add(s->conn, count_rx, NULL, NULL, NULL, s);

    xu_session_set_deadline(s, deadline > 0 ? deadline : xu_now() + xu_session_shown_timeout(o));
    rc = xu_session_setup_tls(s, err);
    if (rc == 0)
        rc = s->is_component ? xu_session_start_component(s, err)
                             : xu_session_start_client(s, err);
    if (rc)
        return rc;
    xu_trace_info(s->trace, "connecting to %s", s->connect_target);
    return 0;
}

int xu_session_open(struct xu_session *s, const struct xu_opts *o, double deadline,
                    struct xu_error *err)
{
    int rc = xu_session_start(s, o, deadline, err);

    if (rc)
        return rc;
    while (!s->ready) {
        rc = xu_session_step(s, 1.0, -1, NULL);
        if (rc)
            return xu_error_set(err, rc, "%s", s->err.msg);
    }
    if (deadline <= 0 && o->timeout == 0)
        xu_session_set_deadline(s, 0); /* --timeout 0: only connecting is bounded */
    return 0;
}

void xu_session_close(struct xu_session *s)
{
    double until;

    if (!s->conn || s->disconnected || !xmpp_conn_is_connected(s->conn))
        return;
    s->phase = XU_PHASE_CLOSING;
    xu_sm_ack_before_close(s);
    xmpp_disconnect(s->conn);
    /* Give the server a moment to close its side, within the deadline. */
    until = xu_now() + 2.0;
    if (s->deadline > 0 && s->deadline < until)
        until = s->deadline;
    while (!s->disconnected && xu_now() < until)
        xmpp_run_once(s->ctx, 50);
}

void xu_session_free(struct xu_session *s)
{
    arm_alarm(0);
    xu_session_restore_cert_file();
    xu_negotiate_free(s); /* before the context its stanzas belong to */
    if (s->conn)
        xmpp_conn_release(s->conn);
    if (s->ctx)
        xmpp_ctx_free(s->ctx);
    xu_negotiate_free(s);
    xu_tlsinfo_reset();
    if (!s->trace_shared)
        xu_trace_close(s->trace);
    free(s->bound_jid);
    free(s->features);
    free(s->stream_id);
    if (xu_session_current == s)
        xu_session_current = NULL;
    xu_session_alarm_sock = -1;
    memset(s, 0, sizeof *s);
    s->sock = -1;
}
