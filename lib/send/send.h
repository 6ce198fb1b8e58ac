/* The xmpp-send engine: from the tool's configuration (which its option
 * table fills, through xu_send_option) and its operands to a delivered
 * message, stream of lines or stream of stanzas.
 *
 * It owns everything between the options and the delivery engine
 * (deliver.h): the option values that need more than a store (--rate,
 * --file and the --file-name/--file-type that go with it, ...), the
 * recipients (JIDs, rooms), the body (-m or standard input), the room
 * password, the --file uploads (plain or OMEMO, upload.h, send/omemo_file.h)
 * whose URLs become messages, and the OMEMO hooks (send/omemo_encrypt.h). It
 * runs the delivery and returns its exit code with err set. */
#ifndef XU_SEND_H
#define XU_SEND_H

#include "base/error.h"
#include "base/opts.h"
#include "send/deliver.h"
#include "send/upload.h"

/* The option ids of xmpp-send's table (cmd/xmpp-send.c). */
enum xu_send_option_id {
    XU_SEND_MESSAGE = 1000, XU_SEND_SUBJECT, XU_SEND_TYPE, XU_SEND_THREAD, XU_SEND_LANG,
    XU_SEND_MUC, XU_SEND_NICK, XU_SEND_ROOM_PASSWORD_FILE, XU_SEND_NO_CREATE, XU_SEND_LINES,
    XU_SEND_XML, XU_SEND_STRICT, XU_SEND_RECEIPT, XU_SEND_RATE, XU_SEND_BATCH,
    XU_SEND_MAX_SIZE, XU_SEND_ONE_PER_LINE, XU_SEND_BUFFER, XU_SEND_RETRY, XU_SEND_FILE,
    XU_SEND_FILE_NAME, XU_SEND_FILE_TYPE, XU_SEND_OMEMO,
};

/* The configuration. The option table writes into it, d included (the
 * delivery engine's own settings: thread, lang, nick, receipt, rate, ...);
 * xu_send fills the rest of d (input, recipients, body, hooks). */
struct xu_send_cfg {
    struct xu_deliver_cfg d;
    char *message, *subject, *type, *room_password_file; /* as given */
    int muc, lines, xml, omemo;
    struct xu_upload_file *files; /* --file, in order (paths point into argv) */
    int nfiles;
    const char *pending_name, *pending_type; /* --file-name/--file-type before any --file */
    unsigned long long given;     /* xu_tool.given: options on the command line */
};

/* The defaults; d.retry -2: not given (xu_send: none with --lines/--xml, else 0). */
#define XU_SEND_CFG_INIT {.d = {.rate = 5, .max_size = 32768, .buffer = 10000, .retry = -2}}

/* The engine's exit codes besides the common ones, for --help. */
extern const char xu_send_exit_notes[];

/* xu_tool.apply: the checks and stores of the options whose table entry
 * says XU_CALL, and the checks after a typed store (--type, --thread, ...).
 * Messages name the option as on the command line. */
int xu_send_option(void *cfg, int id, const char *arg, int from_config, struct xu_error *err);


/* Send to the n recipients in rcpt (JIDs, xmpp: URIs, rooms): check them
 * against the options, read the body, upload the files, set up OMEMO, and
 * deliver (o: the session options; its password is kept for reconnects).
 * 0 once the server acknowledged everything, else an exit code, err set. */
int xu_send(struct xu_send_cfg *c, const struct xu_tool *tool, struct xu_opts *o, char **rcpt,
            int n, struct xu_error *err);

/* Release what the options and xu_send allocated. */
void xu_send_cfg_free(struct xu_send_cfg *c);

#endif
