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
 */
#ifndef TQ_METRICS_H
#define TQ_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "tq_wfigures.h"

enum tq_metric_type { TQ_METRIC_COUNTER = 0, TQ_METRIC_GAUGE, TQ_METRIC_HISTOGRAM };

struct tq_metrics;       /* the registry */
struct tq_metric_family; /* one metric name */
struct tq_metric;        /* one series of a family */

/* Upper bounds (seconds) of the latency histograms tileq exports (render duration, render
 * wait); +Inf is implied. They are the buckets of the worker figures (tq_wfigures.h: workers
 * publish their histograms through Redis over these bounds, coordinators export them). */
#define TQ_METRICS_LATENCY_NBUCKETS TQ_WFIGURES_NBUCKETS
#define TQ_METRICS_LATENCY_BUCKETS TQ_WFIGURES_BUCKETS

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

/* Index of the bucket v falls in among bounds[0..nbuckets): the first i with v <= bounds[i],
 * or nbuckets when v is above them all (or NaN). */
size_t tq_metrics_bucket_index(const double *bounds, size_t nbuckets, double v);

#endif
