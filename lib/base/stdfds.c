#include "base/stdfds.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "base/error.h"

static int closed_at_start[3];

int xu_stdfds_init(void)
{
    int fd, nul;

    for (fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
            continue;
        closed_at_start[fd] = 1;
        /* the lowest free descriptor is this one: the ones below are open */
        nul = open("/dev/null", O_RDONLY | O_NOCTTY);
        if (nul < 0)
            return XU_EX_OSERR;
        if (nul != fd) {
            if (dup2(nul, fd) < 0) {
                close(nul);
                return XU_EX_OSERR;
            }
            close(nul);
        }
    }
    return 0;
}

int xu_stdfd_was_closed(int fd)
{
    return fd >= 0 && fd <= 2 && closed_at_start[fd];
}
