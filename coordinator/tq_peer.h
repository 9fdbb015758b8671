/* tq_peer — what the client at the other end of a socket did, looked at without reading
 * (issue 16, half-closed clients):
 *
 *   TQ_PEER_OPEN         nothing new: still connected, nothing to read
 *   TQ_PEER_DATA         bytes are waiting (a pipelined request)
 *   TQ_PEER_HALF_CLOSED  it sent FIN: it shut down its write side (shutdown(SHUT_WR),
 *                        `nc -N`) and may still read our reply, or it closed the socket
 *   TQ_PEER_GONE         a reset (RST, from a close with unread data or SO_LINGER 0, or in
 *                        answer to what we sent after it closed), or another socket error
 *
 * FIN alone cannot tell a half-close from a close. What can: send something the client
 * must accept. A socket closed for good answers it with a reset (TQ_PEER_GONE on a later
 * look); a half-closed one takes it. tq_peer_probe sends an HTTP/1.1 "100 Continue"
 * interim response, which every HTTP/1.1 client must be able to read before the final
 * response (RFC 9110 §15.2) and which says nothing (never to an HTTP/1.0 client: §15.2
 * forbids it there). */
#ifndef TQ_PEER_H
#define TQ_PEER_H

enum tq_peer_state { TQ_PEER_OPEN, TQ_PEER_DATA, TQ_PEER_HALF_CLOSED, TQ_PEER_GONE };

/* Looks at the connected socket fd (MSG_PEEK, SO_ERROR, TCP_INFO; reads nothing). */
enum tq_peer_state tq_peer_look(int fd);

/* Sends "HTTP/1.1 100 Continue\r\n\r\n" on fd, which must have nothing else queued to it
 * (no reply started). 0 sent; -1 when the socket refuses it (the peer is gone). */
int tq_peer_probe(int fd);

/* A name for state, for log lines. */
const char *tq_peer_state_name(enum tq_peer_state state);

#endif
