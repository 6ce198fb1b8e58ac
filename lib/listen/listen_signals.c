#include "listen/listen_signals.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "xmpp/session.h"

static volatile sig_atomic_t stop_signal;
static int wake_fds[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    ssize_t w;

    stop_signal = sig;
    w = write(wake_fds[1], "x", 1);
    (void)w;
    errno = saved;
}

int xu_listen_signals_setup(struct xu_error *err)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa;
    size_t i;

    if (pipe2(wake_fds, O_CLOEXEC | O_NONBLOCK) < 0)
        return xu_error_set(err, XU_EX_OSERR, "pipe: %s", strerror(errno));
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    /* a second signal takes the default action: kills at once */
    sa.sa_flags = SA_RESTART | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a closed stdout is an EPIPE we handle */
    /* connecting and joining rooms stop at once too */
    xu_session_set_interrupt(&stop_signal);
    return 0;
}

int xu_listen_stop_signal(void)
{
    return stop_signal;
}

int xu_listen_wake_fd(void)
{
    return wake_fds[0];
}

void xu_listen_wake_drain(void)
{
    char buf[64];

    while (read(wake_fds[0], buf, sizeof buf) > 0)
        ;
}

int xu_listen_stdout_gone(void)
{
    struct pollfd p = {1, 0, 0};

    return poll(&p, 1, 0) > 0 && (p.revents & POLLERR);
}
