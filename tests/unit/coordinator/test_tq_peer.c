/* Unit tests for tq_peer over real loopback TCP connections: a client that sends, shuts
 * down its write side, closes, or resets, as the coordinator sees it; and the probe that
 * tells a half-close (it takes the probe, then reads our reply) from a close (it answers the
 * probe with a reset). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tq_peer.h"

struct pair {
    int client, server;
};

static struct pair connect_pair(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    struct pair p;
    int l = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(l >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(l, 1), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&a, &len), 0);
    p.client = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(p.client >= 0);
    assert_int_equal(connect(p.client, (struct sockaddr *)&a, sizeof a), 0);
    p.server = accept(l, NULL, NULL);
    assert_true(p.server >= 0);
    close(l);
    return p;
}

/* The server side's state once it is no longer from (polls up to 5 s: loopback delivers
 * at once, but the test must not depend on how fast). */
static enum tq_peer_state look_past(int fd, enum tq_peer_state from)
{
    enum tq_peer_state s = tq_peer_look(fd);
    for (int i = 0; i < 5000 && s == from; i++) {
        poll(NULL, 0, 1);
        s = tq_peer_look(fd);
    }
    return s;
}

/* Reads exactly n bytes from fd into buf (bounded by poll), NUL-terminates. */
static void read_exact(int fd, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        struct pollfd pfd = {fd, POLLIN, 0};
        assert_int_equal(poll(&pfd, 1, 5000), 1);
        ssize_t r = read(fd, buf + got, n - got);
        assert_true(r > 0);
        got += (size_t)r;
    }
    buf[n] = '\0';
}

static void test_open_and_data(void **state)
{
    struct pair p = connect_pair();

    (void)state;
    assert_int_equal(tq_peer_look(p.server), TQ_PEER_OPEN);
    assert_int_equal(write(p.client, "GET", 3), 3);
    assert_int_equal(look_past(p.server, TQ_PEER_OPEN), TQ_PEER_DATA);
    assert_int_equal(tq_peer_look(p.server), TQ_PEER_DATA); /* nothing was read */
    close(p.client);
    close(p.server);
}

/* shutdown(SHUT_WR): half-closed; the probe goes through, it stays half-closed, and the
 * client reads the probe and then the reply. */
static void test_half_close(void **state)
{
    struct pair p = connect_pair();
    char buf[64];

    (void)state;
    assert_int_equal(shutdown(p.client, SHUT_WR), 0);
    assert_int_equal(look_past(p.server, TQ_PEER_OPEN), TQ_PEER_HALF_CLOSED);
    assert_int_equal(tq_peer_probe(p.server), 0);
    read_exact(p.client, buf, 25);
    assert_string_equal(buf, "HTTP/1.1 100 Continue\r\n\r\n");
    /* still there a while after the probe (no reset comes) */
    poll(NULL, 0, 50);
    assert_int_equal(tq_peer_look(p.server), TQ_PEER_HALF_CLOSED);
    assert_int_equal(write(p.server, "reply", 5), 5);
    read_exact(p.client, buf, 5);
    assert_string_equal(buf, "reply");
    close(p.client);
    close(p.server);
}

/* close(): the same FIN, but the probe is answered with a reset: gone. */
static void test_close_then_probe(void **state)
{
    struct pair p = connect_pair();

    (void)state;
    close(p.client);
    assert_int_equal(look_past(p.server, TQ_PEER_OPEN), TQ_PEER_HALF_CLOSED);
    assert_int_equal(tq_peer_probe(p.server), 0); /* accepted locally; the RST comes back */
    assert_int_equal(look_past(p.server, TQ_PEER_HALF_CLOSED), TQ_PEER_GONE);
    assert_int_equal(tq_peer_look(p.server), TQ_PEER_GONE); /* and stays gone */
    assert_int_equal(tq_peer_probe(p.server), -1);
    close(p.server);
}

/* A reset (SO_LINGER 0): gone at once, without a probe. */
static void test_reset(void **state)
{
    struct pair p = connect_pair();
    struct linger lg = {1, 0};

    (void)state;
    assert_int_equal(setsockopt(p.client, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(p.client);
    assert_int_equal(look_past(p.server, TQ_PEER_OPEN), TQ_PEER_GONE);
    close(p.server);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(tq_peer_state_name(TQ_PEER_OPEN), "open");
    assert_string_equal(tq_peer_state_name(TQ_PEER_DATA), "data");
    assert_string_equal(tq_peer_state_name(TQ_PEER_HALF_CLOSED), "half_closed");
    assert_string_equal(tq_peer_state_name(TQ_PEER_GONE), "gone");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_and_data),
        cmocka_unit_test(test_half_close),
        cmocka_unit_test(test_close_then_probe),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
