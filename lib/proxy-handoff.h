/* What the egress proxy's front and its TLS worker say over their socket pair
 * (SOCK_SEQPACKET, both ends non-blocking; lib/proxy-worker.c): the front hands over a connection, a
 * message of the head it read with the client's socket in it (SCM_RIGHTS); the worker answers
 * how many of those connections ended, a message of one uint32_t. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "http-proxy.h"

/* The longest head handed over. */
#define PROXY_HANDOFF_MAX HTTP_HEAD_MAX

/* Sends FD and HEAD (LEN bytes, 1 to PROXY_HANDOFF_MAX) over SOCK: 0, -EAGAIN while the
 * socket is full, or another negative errno. */
int proxy_handoff_send(int sock, int fd, const char *head, size_t len);

/* Takes one connection from SOCK: 1 with its socket in *RET_FD (close-on-exec) and its head in
 * BUF (*RET_LEN bytes of SIZE), 0 at the other end's close, -EAGAIN, -EBADMSG for a message
 * that is not one socket and a whole head (any descriptor in it is closed), or another
 * negative errno. */
int proxy_handoff_recv(int sock, char *buf, size_t size, int *ret_fd, size_t *ret_len);

/* Sends that N connections ended: 0, -EAGAIN, or another negative errno. */
int proxy_handoff_send_ended(int sock, uint32_t n);

/* Takes one such message: 1 with its count in *RET, 0 at the other end's close, -EAGAIN,
 * -EBADMSG for one of another size, or another negative errno. */
int proxy_handoff_recv_ended(int sock, uint32_t *ret);
