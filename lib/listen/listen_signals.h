/* xmpp-listen's signals: SIGINT, SIGTERM and SIGHUP ask for a clean close
 * (leave the rooms, go unavailable, close the stream), never an abrupt
 * death; a second one takes the default action. The handler writes to a
 * wake pipe so that a loop sleeping in poll() sees it at once, and the
 * session's connect and joins stop too (xu_session_set_interrupt). This
 * file owns the pipe and the flag, one per process. SIGPIPE is ignored: a
 * closed standard output is an EPIPE the output handles. */
#ifndef XU_LISTEN_SIGNALS_H
#define XU_LISTEN_SIGNALS_H

#include "base/error.h"

/* Install the handlers and open the wake pipe. XU_EX_OSERR on failure. */
int xu_listen_signals_setup(struct xu_error *err);
/* The signal that asked to stop, or 0. */
int xu_listen_stop_signal(void);
/* The read end of the wake pipe (-1 before setup), and emptying it. */
int xu_listen_wake_fd(void);
void xu_listen_wake_drain(void);
/* Has the reader of standard output gone (a pipe with no reader left)? */
int xu_listen_stdout_gone(void);

#endif
