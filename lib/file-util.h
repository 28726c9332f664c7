/* Reading a small file whole (a configuration file, a credential, a trust store), writing one. */
#pragma once

#include <stddef.h>

/* The content of the regular file PATH, NUL-terminated (for text; LEN counts the bytes).
 * -ENOENT when it does not exist, -EFBIG when it is not a regular file of at most MAX bytes,
 * another negative errno when it cannot be read. */
int file_read_all(const char *path, size_t max, char **ret, size_t *ret_len);

/* Removes NAME under directory PARENT, and everything inside it when it is a directory;
 * symbolic links are removed, never followed.  The first error, as a negative errno. */
int file_remove_tree_at(int parent, const char *name);

/* What FD gives until its end, NUL-terminated (LEN counts the bytes): -E2BIG past MAX bytes,
 * another negative errno when it cannot be read. */
int fd_read_all(int fd, size_t max, char **ret, size_t *ret_len);

/* Writes LEN bytes of BUF to FD, whatever it takes: 0, or a negative errno. */
int fd_write_all(int fd, const void *buf, size_t len);
