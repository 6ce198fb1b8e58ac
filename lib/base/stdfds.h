/* The standard descriptors 0-2 must be open before anything else opens a
 * file or a socket: a tool started with one of them closed would otherwise
 * get its TCP socket (or trace file) there, and write stanzas or warnings
 * in clear onto the connection, or read the server's bytes as its input. */
#ifndef XU_STDFDS_H
#define XU_STDFDS_H

/* Call first in every main(). Each closed descriptor among 0-2 is opened
 * on /dev/null read-only: a closed stdin reads as empty input, and writes
 * to a closed stdout or stderr fail (EBADF), so that a tool whose output
 * cannot be written exits 74 instead of claiming success. Returns 0, or
 * XU_EX_OSERR when /dev/null cannot be opened (the caller must exit then,
 * having nothing safe to write to). */
int xu_stdfds_init(void);

/* Was descriptor fd (0-2) closed at start? */
int xu_stdfd_was_closed(int fd);

#endif
