/* tq_event — the completion events of the events stream ({tq}:events, tq_wire.h), typed.
 *
 * An event is one stream entry with the fields id (the job id), status (ok | partial |
 * dead) and error (the reason of a dead job, "" otherwise). The queue's Lua scripts add them
 * (XADD ... MAXLEN ~ TQ_EVENTS_MAXLEN, with TQ_EVENT_LUA_XADD below, the one copy of the
 * field list); coordinators (XREAD BLOCK), tileq warm (XREAD) and tileq status (XREVRANGE)
 * read them with tq_event_each.
 *
 * Every pointer in a struct tq_event points into the hiredis reply it was parsed from: it is
 * valid while that reply lives. */
#ifndef TQ_EVENT_H
#define TQ_EVENT_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "tq_wire.h"

enum tq_event_status {
    TQ_EV_OK = 0,      /* TQ_EVENT_OK */
    TQ_EV_PARTIAL,     /* TQ_EVENT_PARTIAL */
    TQ_EV_DEAD,        /* TQ_EVENT_DEAD */
    TQ_EV_UNKNOWN,     /* an entry without id or status, or a status this build does not know */
    TQ_EV_STATUS_COUNT /* (TQ_EV_UNKNOWN included) */
};

struct tq_event {
    const char *stream_id; /* the entry's id ("1700000000000-0") */
    const char *job_id;    /* NULL when the entry has no id field */
    enum tq_event_status status;
    const char *error; /* never NULL: "" when absent */
};

/* The Lua function event(key, id, status, err) that every script adding an event uses. */
#define TQ_EVENT_LUA_XADD                                                                          \
    "local function event(k, id, status, err) redis.call('XADD', k, 'MAXLEN', '~', " TQ_WIRE_STR(  \
        TQ_EVENTS_MAXLEN) ", '*', '" TQ_EVENT_F_ID "', id, '" TQ_EVENT_F_STATUS                    \
                          "', status, '" TQ_EVENT_F_ERROR "', err or '') end\n"

/* "ok", "partial", "dead" ("unknown" for anything else). */
const char *tq_event_status_name(enum tq_event_status s);
/* TQ_EV_UNKNOWN for NULL or an unknown name. */
enum tq_event_status tq_event_status_parse(const char *s);

/* 1 when the job is finished with this event (ok or dead): "partial" is not a completion. */
int tq_event_is_final(enum tq_event_status s);

/* Parses one stream entry, [stream id, [field, value, ...]], into ev. Returns 0, or -1 when
 * the entry is not one (then ev is left as it was). An entry without id or status parses
 * with job_id NULL or status TQ_EV_UNKNOWN: the caller still moves past its stream id. */
int tq_event_parse(const redisReply *entry, struct tq_event *ev);

/* Calls fn for each event of reply, in order, with arg: reply is the answer to XREAD (one
 * or more streams: [[key, [entry, ...]], ...]; nil when BLOCK timed out) or to
 * XRANGE/XREVRANGE ([entry, ...]). Malformed entries are skipped. Returns the number of
 * events passed to fn, or -1 when reply is neither. */
typedef void (*tq_event_fn)(const struct tq_event *ev, void *arg);
long tq_event_each(const redisReply *reply, tq_event_fn fn, void *arg);

/* An XADD of one event to TQ_QUEUE_EVENTS_KEY as the scripts write it, for
 * redisCommandArgv/redisAppendCommandArgv(c, x.argc, x.argv, NULL) (tests and tools: the
 * queue adds its events in Lua). The strings given are borrowed: they must outlive x's use. */
struct tq_event_xadd {
    int argc;
    const char *argv[12];
};
void tq_event_encode(const char *job_id, enum tq_event_status status, const char *error,
                     struct tq_event_xadd *x);

#endif
