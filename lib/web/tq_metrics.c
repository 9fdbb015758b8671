/* tq_metrics — see tq_metrics.h.
 *
 * Ownership: the registry owns its families (array of pointers), a family owns its label
 * names, bounds and series (array of pointers), a series owns its label values and bucket
 * counts. Nothing is shared. */
#include "tq_metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_buf.h"

struct tq_metric {
    const struct tq_metric_family *f; /* the family it belongs to */
    char **labels;                    /* family's nlabels values */
    double value;                     /* counter, gauge */
    uint64_t *counts;                 /* histogram: nbuckets + 1 per-bucket counts */
    uint64_t count;
    double sum;
};

struct tq_metric_family {
    enum tq_metric_type type;
    char *name, *help;
    size_t nlabels;
    char **label_names;
    size_t nbuckets;
    double *bounds;
    struct tq_metric **series;
    size_t nseries, cap;
};

struct tq_metrics {
    struct tq_metric_family **families;
    size_t n, cap;
};

/* ---- names ----------------------------------------------------------------------------- */

static int name_ok(const char *s, int colon)
{
    if (s == NULL || *s == '\0')
        return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        int alpha =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
        if (!alpha && !(p > s && c >= '0' && c <= '9'))
            return 0;
    }
    return 1;
}

/* ---- registry -------------------------------------------------------------------------- */

struct tq_metrics *tq_metrics_new(void)
{
    return calloc(1, sizeof(struct tq_metrics));
}

static void series_free(struct tq_metric *s, size_t nlabels)
{
    if (s == NULL)
        return;
    for (size_t i = 0; s->labels && i < nlabels; i++)
        free(s->labels[i]);
    free(s->labels);
    free(s->counts);
    free(s);
}

static void family_free(struct tq_metric_family *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->nseries; i++)
        series_free(f->series[i], f->nlabels);
    free(f->series);
    for (size_t i = 0; f->label_names && i < f->nlabels; i++)
        free(f->label_names[i]);
    free(f->label_names);
    free(f->bounds);
    free(f->name);
    free(f->help);
    free(f);
}

void tq_metrics_free(struct tq_metrics *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++)
        family_free(m->families[i]);
    free(m->families);
    free(m);
}

/* A new zeroed series with copies of the label values (NULL on OOM). */
static struct tq_metric *series_new(const struct tq_metric_family *f,
                                    const char *const *label_values)
{
    struct tq_metric *s = calloc(1, sizeof *s);

    if (s == NULL)
        return NULL;
    s->f = f;
    if (f->nlabels > 0) {
        s->labels = calloc(f->nlabels, sizeof *s->labels);
        if (s->labels == NULL)
            goto fail;
        for (size_t i = 0; i < f->nlabels; i++) {
            s->labels[i] = strdup(label_values[i] ? label_values[i] : "");
            if (s->labels[i] == NULL)
                goto fail;
        }
    }
    if (f->type == TQ_METRIC_HISTOGRAM) {
        s->counts = calloc(f->nbuckets + 1, sizeof *s->counts);
        if (s->counts == NULL)
            goto fail;
    }
    return s;
fail:
    series_free(s, f->nlabels);
    return NULL;
}

static int family_append(struct tq_metric_family *f, struct tq_metric *s)
{
    if (f->nseries == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        struct tq_metric **n = realloc(f->series, cap * sizeof *n);
        if (n == NULL)
            return -1;
        f->series = n;
        f->cap = cap;
    }
    f->series[f->nseries++] = s;
    return 0;
}

/* Gives a family without labels its one series. 0 or -1 (OOM). */
static int family_seed(struct tq_metric_family *f)
{
    struct tq_metric *s;

    if (f->nlabels > 0)
        return 0;
    s = series_new(f, NULL);
    if (s == NULL || family_append(f, s) != 0) {
        series_free(s, 0);
        return -1;
    }
    return 0;
}

struct tq_metric_family *tq_metrics_add_family(struct tq_metrics *m, enum tq_metric_type type,
                                               const char *name, const char *help, size_t nlabels,
                                               const char *const *label_names, size_t nbuckets,
                                               const double *buckets)
{
    struct tq_metric_family *f = NULL;

    if (m == NULL || !name_ok(name, 1) || (nlabels > 0 && label_names == NULL))
        return NULL;
    if (type != TQ_METRIC_COUNTER && type != TQ_METRIC_GAUGE && type != TQ_METRIC_HISTOGRAM)
        return NULL;
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->families[i]->name, name) == 0)
            return NULL;
    }
    for (size_t i = 0; i < nlabels; i++) {
        if (!name_ok(label_names[i], 0) || strncmp(label_names[i], "__", 2) == 0 ||
            (type == TQ_METRIC_HISTOGRAM && strcmp(label_names[i], "le") == 0))
            return NULL;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(label_names[i], label_names[j]) == 0)
                return NULL;
        }
    }
    if (type == TQ_METRIC_HISTOGRAM) {
        if (nbuckets == 0 || buckets == NULL)
            return NULL;
        for (size_t i = 0; i < nbuckets; i++) {
            if (!isfinite(buckets[i]) || (i > 0 && !(buckets[i] > buckets[i - 1])))
                return NULL;
        }
    } else {
        nbuckets = 0;
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        struct tq_metric_family **n = realloc(m->families, cap * sizeof *n);
        if (n == NULL)
            return NULL;
        m->families = n;
        m->cap = cap;
    }
    f = calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    f->type = type;
    f->nlabels = nlabels;
    f->nbuckets = nbuckets;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    if (f->name == NULL || f->help == NULL)
        goto fail;
    if (nlabels > 0) {
        f->label_names = calloc(nlabels, sizeof *f->label_names);
        if (f->label_names == NULL)
            goto fail;
        for (size_t i = 0; i < nlabels; i++) {
            f->label_names[i] = strdup(label_names[i]);
            if (f->label_names[i] == NULL)
                goto fail;
        }
    }
    if (nbuckets > 0) {
        f->bounds = malloc(nbuckets * sizeof *f->bounds);
        if (f->bounds == NULL)
            goto fail;
        memcpy(f->bounds, buckets, nbuckets * sizeof *f->bounds);
    }
    if (family_seed(f) != 0)
        goto fail;
    m->families[m->n++] = f;
    return f;
fail:
    family_free(f);
    return NULL;
}

struct tq_metric *tq_metric_get(struct tq_metric_family *f, const char *const *label_values)
{
    struct tq_metric *s;

    if (f->nlabels == 0 && f->nseries > 0)
        return f->series[0];
    for (size_t i = 0; i < f->nseries; i++) {
        size_t j;
        s = f->series[i];
        for (j = 0; j < f->nlabels; j++) {
            if (strcmp(s->labels[j], label_values[j] ? label_values[j] : "") != 0)
                break;
        }
        if (j == f->nlabels)
            return s;
    }
    s = series_new(f, label_values);
    if (s == NULL || family_append(f, s) != 0) {
        series_free(s, f->nlabels);
        return NULL;
    }
    return s;
}

void tq_metric_family_reset(struct tq_metric_family *f)
{
    for (size_t i = 0; i < f->nseries; i++)
        series_free(f->series[i], f->nlabels);
    f->nseries = 0;
}

void tq_metric_add(struct tq_metric *s, double v)
{
    if (s)
        s->value += v;
}

void tq_metric_set(struct tq_metric *s, double v)
{
    if (s)
        s->value = v;
}

double tq_metric_value(const struct tq_metric *s)
{
    return s ? s->value : 0;
}

size_t tq_metrics_bucket_index(const double *bounds, size_t nbuckets, double v)
{
    size_t i;
    for (i = 0; i < nbuckets; i++) {
        if (v <= bounds[i])
            break;
    }
    return i;
}

void tq_metric_observe(struct tq_metric *s, double v)
{
    if (s == NULL || s->counts == NULL)
        return;
    s->counts[tq_metrics_bucket_index(s->f->bounds, s->f->nbuckets, v)]++;
    s->count++;
    s->sum += v;
}

int tq_metric_hist_set(struct tq_metric *s, const uint64_t *counts, size_t n, double sum)
{
    uint64_t total = 0;

    if (s == NULL || s->counts == NULL || n != s->f->nbuckets + 1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        s->counts[i] = counts[i];
        total += counts[i];
    }
    s->count = total;
    s->sum = sum;
    return 0;
}

/* ---- text ------------------------------------------------------------------------------ */

void tq_metrics_format_value(double v, char *out)
{
    if (isnan(v)) {
        snprintf(out, TQ_METRICS_VALUE_MAX, "NaN");
    } else if (isinf(v)) {
        snprintf(out, TQ_METRICS_VALUE_MAX, "%s", v > 0 ? "+Inf" : "-Inf");
    } else if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        snprintf(out, TQ_METRICS_VALUE_MAX, "%.0f", v == 0 ? 0.0 : v); /* no "-0" */
    } else {
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(out, TQ_METRICS_VALUE_MAX, "%.*g", prec, v);
            if (strtod(out, NULL) == v)
                break;
        }
    }
}

static void sb_value(struct tq_buf *b, double v)
{
    char tmp[TQ_METRICS_VALUE_MAX];
    tq_metrics_format_value(v, tmp);
    tq_buf_append_str(b, tmp);
}

static void sb_u64(struct tq_buf *b, uint64_t v)
{
    tq_buf_printf(b, "%" PRIu64, v);
}

/* HELP text: backslash and newline escaped. Label values: also the double quote. */
static void sb_escaped(struct tq_buf *b, const char *s, int quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            tq_buf_append(b, "\\\\", 2);
        else if (*s == '\n')
            tq_buf_append(b, "\\n", 2);
        else if (quote && *s == '"')
            tq_buf_append(b, "\\\"", 2);
        else
            tq_buf_append(b, s, 1);
    }
}

/* name{labels[,le="..."]} — the braces are left out when there is nothing inside. */
static void sb_sample_name(struct tq_buf *b, const struct tq_metric_family *f,
                           const struct tq_metric *s, const char *suffix, const char *le)
{
    tq_buf_append_str(b, f->name);
    tq_buf_append_str(b, suffix);
    if (f->nlabels == 0 && le == NULL)
        return;
    tq_buf_append(b, "{", 1);
    for (size_t i = 0; i < f->nlabels; i++) {
        if (i > 0)
            tq_buf_append(b, ",", 1);
        tq_buf_append_str(b, f->label_names[i]);
        tq_buf_append(b, "=\"", 2);
        sb_escaped(b, s->labels[i], 1);
        tq_buf_append(b, "\"", 1);
    }
    if (le) {
        if (f->nlabels > 0)
            tq_buf_append(b, ",", 1);
        tq_buf_append_str(b, "le=\"");
        tq_buf_append_str(b, le);
        tq_buf_append(b, "\"", 1);
    }
    tq_buf_append(b, "}", 1);
}

static void render_family(struct tq_buf *b, const struct tq_metric_family *f)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};

    tq_buf_append_str(b, "# HELP ");
    tq_buf_append_str(b, f->name);
    tq_buf_append(b, " ", 1);
    sb_escaped(b, f->help, 0);
    tq_buf_append_str(b, "\n# TYPE ");
    tq_buf_append_str(b, f->name);
    tq_buf_append(b, " ", 1);
    tq_buf_append_str(b, types[f->type]);
    tq_buf_append(b, "\n", 1);
    for (size_t i = 0; i < f->nseries; i++) {
        const struct tq_metric *s = f->series[i];
        if (f->type != TQ_METRIC_HISTOGRAM) {
            sb_sample_name(b, f, s, "", NULL);
            tq_buf_append(b, " ", 1);
            sb_value(b, s->value);
            tq_buf_append(b, "\n", 1);
            continue;
        }
        uint64_t cum = 0;
        for (size_t k = 0; k <= f->nbuckets; k++) {
            char le[TQ_METRICS_VALUE_MAX];
            if (k < f->nbuckets)
                tq_metrics_format_value(f->bounds[k], le);
            else
                snprintf(le, sizeof le, "+Inf");
            cum += s->counts[k];
            sb_sample_name(b, f, s, "_bucket", le);
            tq_buf_append(b, " ", 1);
            sb_u64(b, cum);
            tq_buf_append(b, "\n", 1);
        }
        sb_sample_name(b, f, s, "_sum", NULL);
        tq_buf_append(b, " ", 1);
        sb_value(b, s->sum);
        tq_buf_append(b, "\n", 1);
        sb_sample_name(b, f, s, "_count", NULL);
        tq_buf_append(b, " ", 1);
        sb_u64(b, s->count);
        tq_buf_append(b, "\n", 1);
    }
}

int tq_metrics_render(const struct tq_metrics *m, char **out, size_t *len)
{
    struct tq_buf b = TQ_BUF_INIT;

    /* appends after an OOM do nothing; take reports it (an empty registry: "", not NULL) */
    for (size_t i = 0; i < m->n; i++)
        render_family(&b, m->families[i]);
    *out = tq_buf_take(&b, len);
    return *out ? 0 : -1;
}
