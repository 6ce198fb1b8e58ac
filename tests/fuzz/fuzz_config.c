/* The config file parser (lib/base/config.c) through xu_opts_parse (lib/base/opts.c),
 * as a tool loads it: input = "ACCOUNT\n" + file contents (an empty first
 * line: no -a). The file is a memfd, so nothing touches the disk. */
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "fuzz_tool.h"
#include "base/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_tool_state st = {NULL, 0};
    struct xu_tool tool = {"xmpp-fuzz", "[options]", "fuzz", fuzz_tool_options,
                           fuzz_tool_apply, &st, NULL, NULL};
    struct xu_error err = {0, ""};
    struct xu_opts o;
    const uint8_t *nl = memchr(data, '\n', size);
    char path[64], *account = NULL, *argv[6];
    int fd, argc = 0, first = 0, rc;
    size_t alen;

    if (!nl || size > 1 << 16)
        return 0;
    alen = (size_t)(nl - data);
    if (alen > 0) {
        account = fuzz_cstr(data, alen);
        if (strlen(account) != alen) { /* a NUL in the name: not an argv string */
            free(account);
            return 0;
        }
    }
    fd = memfd_create("fuzz-config", MFD_CLOEXEC);
    if (fd < 0)
        abort();
    if (size - alen - 1 && write(fd, nl + 1, size - alen - 1) != (ssize_t)(size - alen - 1))
        abort();
    fchmod(fd, 0600);
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    argv[argc++] = "xmpp-fuzz";
    argv[argc++] = "-C";
    argv[argc++] = path;
    if (account) {
        argv[argc++] = "-a";
        argv[argc++] = account;
    }
    argv[argc] = NULL;
    xu_verbosity = 0;
    rc = xu_opts_parse(&o, &tool, argc, argv, &first, &err);
    fuzz_check_opts(rc, &o, &err);
    FUZZ_CHECK(rc || first == argc, "operands where there are none");
    xu_opts_free(&o);
    free(st.text);
    free(account);
    close(fd);
    return 0;
}
