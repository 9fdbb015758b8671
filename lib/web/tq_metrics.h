/* tq_metrics — a small metrics registry rendered in the Prometheus text exposition format
 * 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/):
 *
 *   # HELP <name> <help, with \ and newline escaped>
 *   # TYPE <name> counter|gauge|histogram
 *   <name>{<label>="<value, with \ " and newline escaped>",...} <value>
 *   <name>_bucket{...,le="<bound>"} <cumulative count>   (histograms; le="+Inf" = _count)
 *   <name>_sum{...} <sum>
 *   <name>_count{...} <count>
 *
 * A registry holds families (one metric name, type, help and label names); a family holds
 * series (one per distinct tuple of label values), rendered in creation order. A family
 * without labels has its one series from the start, so it is rendered as 0 before anything
 * happens. Not thread-safe: one event loop owns it.
 *
 * Also here: the encoding of a histogram as one string, so a process can publish its
 * histograms (e.g. through a Redis hash) for another one to export (tq_metrics_hist_*). */
#ifndef TQ_METRICS_H
#define TQ_METRICS_H

#include <stddef.h>
#include <stdint.h>

enum tq_metric_type { TQ_METRIC_COUNTER = 0, TQ_METRIC_GAUGE, TQ_METRIC_HISTOGRAM };

struct tq_metrics;       /* the registry */
struct tq_metric_family; /* one metric name */
struct tq_metric;        /* one series of a family */

/* Upper bounds (seconds) of the latency histograms tileq exports (render duration, render
 * wait); +Inf is implied. */
#define TQ_METRICS_LATENCY_NBUCKETS 14
extern const double TQ_METRICS_LATENCY_BUCKETS[TQ_METRICS_LATENCY_NBUCKETS];

/* Worker figures travel through Redis (workers have no HTTP listener): every worker keeps
 * its cumulative counters in a hash TQ_WMETRICS_KEY_PREFIX<worker id> (fields below, TTL
 * TQ_WMETRICS_TTL_MS, rewritten about every second while it renders and every 15 s
 * otherwise) and scores its id in the sorted set TQ_WMETRICS_INDEX_KEY with the time of the
 * last write (unix ms). Coordinators read every hash whose index entry is younger than the
 * TTL when /metrics is scraped and export them with a worker label. Fields:
 *   renders       metatiles rendered (SQL succeeded)
 *   tiles         tiles in them
 *   sql_seconds   time spent in the render queries
 *   fail_sql fail_write fail_invalid fail_lost   failures by kind (see the worker)
 *   updated_ms    time of this write
 *   z<zoom>       render duration histogram of that zoom, tq_metrics_hist_encode over
 *                 TQ_METRICS_LATENCY_BUCKETS (nbuckets + 1 counts) */
#define TQ_WMETRICS_INDEX_KEY "{tq}:wmetrics"
#define TQ_WMETRICS_KEY_PREFIX "{tq}:wmetrics:"
#define TQ_WMETRICS_TTL_MS 60000

/* A new empty registry, or NULL on OOM. Freed with tq_metrics_free (frees its families and
 * series). */
struct tq_metrics *tq_metrics_new(void);
void tq_metrics_free(struct tq_metrics *m);

/* Registers a family in m and returns it (owned by m), or NULL when the name, a label name
 * or the buckets are invalid, the name is already registered, or on OOM. name must match
 * [a-zA-Z_:][a-zA-Z0-9_:]*; label names [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__",
 * distinct, and not "le" for a histogram. help is any text. buckets (histograms only, else
 * ignored): nbuckets >= 1 finite, strictly increasing upper bounds. Everything is copied. */
struct tq_metric_family *tq_metrics_add_family(struct tq_metrics *m, enum tq_metric_type type,
                                               const char *name, const char *help, size_t nlabels,
                                               const char *const *label_names, size_t nbuckets,
                                               const double *buckets);

/* The series of f with these label values (f's nlabels strings, any bytes; copied), created
 * at zero when new. NULL on OOM. Owned by f: valid until tq_metric_family_reset(f) or the
 * registry is freed. For a family without labels, label_values may be NULL. */
struct tq_metric *tq_metric_get(struct tq_metric_family *f, const char *const *label_values);

/* Drops every series of f (for families rebuilt at each scrape from data read elsewhere),
 * so f renders no sample until tq_metric_get (also for a family without labels). */
void tq_metric_family_reset(struct tq_metric_family *f);

/* Counter or gauge: adds v. */
void tq_metric_add(struct tq_metric *s, double v);

/* Gauge, or a counter mirrored from a count kept elsewhere: sets the value. */
void tq_metric_set(struct tq_metric *s, double v);

/* Histogram: records one observation. */
void tq_metric_observe(struct tq_metric *s, double v);

/* Histogram: replaces the series' state with counts kept elsewhere: counts[0..n) are the
 * per-bucket (not cumulative) counts, counts[i] for bound i, counts[nbuckets] above the
 * highest bound; n must be the family's nbuckets + 1. Returns 0, or -1 when n is wrong. */
int tq_metric_hist_set(struct tq_metric *s, const uint64_t *counts, size_t n, double sum);

/* The current value of a counter or gauge series (tests, and callers that read back). */
double tq_metric_value(const struct tq_metric *s);

/* Renders every family of m in registration order. On success *out is a malloc'd
 * NUL-terminated text the caller frees, *len its length, and 0 is returned; -1 on OOM. */
int tq_metrics_render(const struct tq_metrics *m, char **out, size_t *len);

/* Writes a sample value as the format wants it: "+Inf", "-Inf", "NaN", an integral value
 * below 2^53 without exponent or decimals, else the shortest text that reads back as the
 * same double. out must hold at least TQ_METRICS_VALUE_MAX bytes. */
#define TQ_METRICS_VALUE_MAX 32
void tq_metrics_format_value(double v, char *out);

/* Encodes a histogram as "<count> <sum> <c0> <c1> ... <cn-1>" (per-bucket counts, not
 * cumulative; count = their total) into out. Returns 0, or -1 when it does not fit. */
int tq_metrics_hist_encode(const uint64_t *counts, size_t n, double sum, char *out, size_t size);

/* Decodes what tq_metrics_hist_encode wrote, expecting exactly n counts whose total is the
 * count. Returns 0, or -1 (malformed, wrong number of counts, inconsistent total). */
int tq_metrics_hist_decode(const char *s, uint64_t *counts, size_t n, double *sum);

/* Index of the bucket v falls in among bounds[0..nbuckets): the first i with v <= bounds[i],
 * or nbuckets when v is above them all (or NaN). */
size_t tq_metrics_bucket_index(const double *bounds, size_t nbuckets, double v);

#endif
