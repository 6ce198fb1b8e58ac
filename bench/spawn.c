/* bench/spawn: run a command and report what it cost, for bench/bench.py.
 *
 *   spawn RESULT-FILE TIMEOUT-S COMMAND [ARG...]
 *
 * Writes one line to RESULT-FILE:
 *   <start ns> <end ns> <user us> <sys us> <max RSS KiB> <exit code or -signal> <timed out 0|1>
 * start and end are CLOCK_MONOTONIC, the clock the receiver stamps arrivals
 * with. The measuring is done here, in a small C process, because a child's
 * peak RSS as wait4() reports it starts from the size of the process it was
 * forked from: spawned from the Python driver it would never read below ~15 MB.
 * On TIMEOUT-S the command's process group is killed. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t timed_out;
static pid_t child;

static void on_alarm(int sig)
{
    (void)sig;
    timed_out = 1;
    kill(-child, SIGKILL);
}

static long long now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    struct rusage ru;
    struct sigaction sa = {0};
    long long t0, t1;
    int status, code;
    FILE *out;

    if (argc < 4) {
        fprintf(stderr, "usage: spawn RESULT-FILE TIMEOUT-S COMMAND [ARG...]\n");
        return 64;
    }
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    t0 = now_ns();
    child = fork();
    if (child < 0) {
        perror("fork");
        return 71;
    }
    if (child == 0) {
        setpgid(0, 0);
        execvp(argv[3], argv + 3);
        perror(argv[3]);
        _exit(127);
    }
    alarm((unsigned)atoi(argv[2]));
    while (wait4(child, &status, 0, &ru) < 0)
        ;
    t1 = now_ns();
    alarm(0);
    code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    out = fopen(argv[1], "w");
    if (!out) {
        perror(argv[1]);
        return 73;
    }
    fprintf(out, "%lld %lld %lld %lld %ld %d %d\n", t0, t1,
            (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
            (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec, ru.ru_maxrss, code,
            (int)timed_out);
    return fclose(out) == 0 ? 0 : 74;
}
