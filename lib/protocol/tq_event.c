/* tq_event — see tq_event.h. */
#include "tq_event.h"

#include <string.h>

static const char *const status_names[TQ_EV_STATUS_COUNT] = {TQ_EVENT_OK, TQ_EVENT_PARTIAL,
                                                             TQ_EVENT_DEAD, "unknown"};

const char *tq_event_status_name(enum tq_event_status s)
{
    return (unsigned)s < TQ_EV_STATUS_COUNT ? status_names[s] : "unknown";
}

enum tq_event_status tq_event_status_parse(const char *s)
{
    for (int i = 0; s && i < TQ_EV_UNKNOWN; i++)
        if (strcmp(s, status_names[i]) == 0)
            return (enum tq_event_status)i;
    return TQ_EV_UNKNOWN;
}

int tq_event_is_final(enum tq_event_status s)
{
    return s == TQ_EV_OK || s == TQ_EV_DEAD;
}

int tq_event_parse(const redisReply *entry, struct tq_event *ev)
{
    if (entry == NULL || entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
        entry->element[0]->type != REDIS_REPLY_STRING ||
        entry->element[1]->type != REDIS_REPLY_ARRAY)
        return -1;
    const redisReply *f = entry->element[1];
    const char *status = NULL;
    ev->stream_id = entry->element[0]->str;
    ev->job_id = NULL;
    ev->error = "";
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        if (strcmp(k->str, TQ_EVENT_F_ID) == 0)
            ev->job_id = v->str;
        else if (strcmp(k->str, TQ_EVENT_F_STATUS) == 0)
            status = v->str;
        else if (strcmp(k->str, TQ_EVENT_F_ERROR) == 0)
            ev->error = v->str;
    }
    ev->status = ev->job_id ? tq_event_status_parse(status) : TQ_EV_UNKNOWN;
    return 0;
}

/* Each entry of an XRANGE-shaped array. */
static long each_entry(const redisReply *entries, tq_event_fn fn, void *arg)
{
    long n = 0;
    struct tq_event ev;
    for (size_t i = 0; i < entries->elements; i++) {
        if (tq_event_parse(entries->element[i], &ev) != 0)
            continue;
        fn(&ev, arg);
        n++;
    }
    return n;
}

long tq_event_each(const redisReply *reply, tq_event_fn fn, void *arg)
{
    long n = 0;
    if (reply == NULL)
        return -1;
    if (reply->type == REDIS_REPLY_NIL)
        return 0;
    if (reply->type != REDIS_REPLY_ARRAY)
        return -1;
    /* XREAD: [[key, [entry, ...]], ...]; XRANGE: [[id, [field, value, ...]], ...]. Both are
     * pairs of a string and an array; the array tells them apart: an XREAD stream's holds
     * entries (arrays, never none), an entry's holds fields (strings). */
    for (size_t s = 0; s < reply->elements; s++) {
        const redisReply *rec = reply->element[s];
        if (rec->type != REDIS_REPLY_ARRAY || rec->elements != 2 ||
            rec->element[1]->type != REDIS_REPLY_ARRAY)
            continue;
        const redisReply *second = rec->element[1];
        if (second->elements > 0 && second->element[0]->type == REDIS_REPLY_ARRAY) {
            n += each_entry(second, fn, arg); /* an XREAD stream */
        } else {
            struct tq_event ev;
            if (tq_event_parse(rec, &ev) == 0) {
                fn(&ev, arg);
                n++;
            }
        }
    }
    return n;
}

void tq_event_encode(const char *job_id, enum tq_event_status status, const char *error,
                     struct tq_event_xadd *x)
{
    int n = 0;
    x->argv[n++] = "XADD";
    x->argv[n++] = TQ_QUEUE_EVENTS_KEY;
    x->argv[n++] = "MAXLEN";
    x->argv[n++] = "~";
    x->argv[n++] = TQ_WIRE_STR(TQ_EVENTS_MAXLEN);
    x->argv[n++] = "*";
    x->argv[n++] = TQ_EVENT_F_ID;
    x->argv[n++] = job_id;
    x->argv[n++] = TQ_EVENT_F_STATUS;
    x->argv[n++] = tq_event_status_name(status);
    x->argv[n++] = TQ_EVENT_F_ERROR;
    x->argv[n++] = error ? error : "";
    x->argc = n;
}
