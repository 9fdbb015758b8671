/* tq_peer — see tq_peer.h. */
#include "tq_peer.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#define PROBE "HTTP/1.1 100 Continue\r\n\r\n"

/* 1 when the kernel has seen the connection end (a reset made it TCP_CLOSE) or holds an
 * error for it. Reading SO_ERROR clears it, so a later look asks TCP_INFO first. */
static int socket_failed(int fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    int err = 0;

    memset(&ti, 0, sizeof ti);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && ti.tcpi_state == TCP_CLOSE)
        return 1;
    len = sizeof err;
    return getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0;
}

enum tq_peer_state tq_peer_look(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

    if (n > 0)
        return TQ_PEER_DATA;
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return socket_failed(fd) ? TQ_PEER_GONE : TQ_PEER_OPEN;
        return TQ_PEER_GONE; /* ECONNRESET and the like */
    }
    /* EOF. After a FIN, Linux's recv reports 0 even once a reset came (the FIN is kept), so
     * ask the socket itself. */
    return socket_failed(fd) ? TQ_PEER_GONE : TQ_PEER_HALF_CLOSED;
}

int tq_peer_probe(int fd)
{
    ssize_t n = send(fd, PROBE, sizeof PROBE - 1, MSG_NOSIGNAL | MSG_DONTWAIT);

    /* 26 bytes into an empty send buffer: all or nothing in practice; a short send would
     * leave half an interim response before our reply, so it counts as a failure. */
    return n == (ssize_t)(sizeof PROBE - 1) ? 0 : -1;
}

const char *tq_peer_state_name(enum tq_peer_state state)
{
    switch (state) {
    case TQ_PEER_OPEN:
        return "open";
    case TQ_PEER_DATA:
        return "data";
    case TQ_PEER_HALF_CLOSED:
        return "half_closed";
    case TQ_PEER_GONE:
    default:
        return "gone";
    }
}
