/* The session's event loop: one step waits on the server (and on one
 * descriptor of the caller's, e.g. standard input) within the deadline,
 * turns libstrophe's loop so that nothing queued or buffered is slept over,
 * and reports the end of the session or of its deadline as an error code. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include "xmpp/session_int.h"
#include "xmpp/tlsinfo.h"

static volatile sig_atomic_t *interrupt_flag;

void xu_session_set_interrupt(volatile sig_atomic_t *flag)
{
    interrupt_flag = flag;
}

static void quickack(struct xu_session *s)
{
#ifdef TCP_QUICKACK
    int one = 1;

    /* Linux turns quick ACKs off again by itself: re-arm before each read
     * so a server that waits for our ACK (Nagle) is not stalled ~40 ms. */
    if (s->sock >= 0)
        setsockopt(s->sock, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
#else
    (void)s;
#endif
}

static int ended(struct xu_session *s)
{
    if (!s->err.code)
        xu_error_set(&s->err, XU_EX_TEMPFAIL, "connection to %s closed", s->connect_target);
    return s->err.code;
}

int xu_session_step(struct xu_session *s, double max_wait, int extra_fd, int *extra_ready)
{
    unsigned long rx;
    struct pollfd pfd[2];
    double wait, now;
    int i, n;

    if (extra_ready)
        *extra_ready = 0;
    if (s->disconnected)
        return ended(s);
    if (interrupt_flag && *interrupt_flag)
        return xu_error_set(&s->err, XU_EX_TEMPFAIL, "interrupted");
    now = xu_now();
    if (s->deadline > 0 && now >= s->deadline) {
        s->timed_out = 1;
        xu_session_explain_end(s, 0, NULL);
        return s->err.code;
    }
    wait = max_wait;
    /* While negotiating, a failure inside one of libstrophe's handlers
     * (e.g. the TLS handshake) closes the socket only when the next loop
     * writes; that loop then sleeps its whole wait: keep it short. */
    if (!s->ready && wait > 0.05)
        wait = 0.05;
    if (s->deadline > 0 && s->deadline - now < wait)
        wait = s->deadline - now;
    if (wait < 0)
        wait = 0;

    if (extra_fd < 0 || s->sock < 0 || !s->ready) {
        quickack(s);
        /* libstrophe writes what is queued before it waits; when that
         * write finds the connection gone, it then sleeps the whole wait
         * with no socket left. Its own queue (e.g. a stream error) is not
         * visible to us: always write first, without waiting. */
        rx = s->rx_stanzas;
        xmpp_run_once(s->ctx, 0);
        if (s->disconnected)
            return ended(s);
        /* That turn read something (e.g. the answer the caller waits for):
         * let the caller look before sleeping. And what OpenSSL already
         * holds is invisible to libstrophe's select(), which would sleep the
         * whole wait over it (libstrophe 0.12.2 src/event.c). */
        if (s->rx_stanzas == rx && !xu_tlsinfo_pending())
            xmpp_run_once(s->ctx, (unsigned long)(wait * 1000) + (wait > 0 ? 1 : 0));
        if (extra_fd >= 0 && extra_ready) {
            pfd[0].fd = extra_fd;
            pfd[0].events = POLLIN;
            *extra_ready = poll(pfd, 1, 0) > 0;
        }
    } else {
        /* Wait on the server and on the caller's descriptor at once. */
        pfd[0].fd = s->sock;
        pfd[0].events = POLLIN | (xmpp_conn_send_queue_len(s->conn) > 0 ? POLLOUT : 0);
        pfd[1].fd = extra_fd;
        pfd[1].events = POLLIN;
        n = poll(pfd, 2, (int)(wait * 1000));
        if (n > 0 && extra_ready)
            *extra_ready = (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
        quickack(s);
        /* libstrophe reads 4 KiB per turn; a 16 KiB TLS record needs a few
         * turns, and what OpenSSL holds buffered is invisible to poll(). */
        for (i = 0; i < 5 && !s->disconnected; i++)
            xmpp_run_once(s->ctx, 0);
    }
    if (s->disconnected && (s->phase != XU_PHASE_CLOSED || s->err.code))
        return ended(s);
    if (s->disconnected)
        return ended(s);
    return 0;
}

int xu_session_run(struct xu_session *s, int (*done)(void *ud), void *ud, struct xu_error *err)
{
    int rc;

    while (!done(ud)) {
        rc = xu_session_step(s, 1.0, -1, NULL);
        if (rc)
            return xu_error_set(err, rc, "%s", s->err.msg);
    }
    return 0;
}
