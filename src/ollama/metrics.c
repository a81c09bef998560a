/* metrics.c — counters and histograms behind GET /metrics, rendered in the
 * Prometheus text exposition format (version 0.0.4: # HELP / # TYPE lines,
 * cumulative _bucket{le=...} series with +Inf, _sum and _count). Series are
 * kept in small arrays searched linearly: there are a few dozen at most. */
#include "ollama/metrics.h"

#include "base/mem.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define N_LAT_BUCKETS 14
#define N_TPS_BUCKETS 12

static const double lat_bounds[N_LAT_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                 1,     2.5,  5,     10,   30,  60,   300};
static const double tps_bounds[N_TPS_BUCKETS] = {1,   2,   5,   10,   20,   50,
                                                 100, 200, 500, 1000, 2000, 5000};

struct hist {
	int64_t counts[N_LAT_BUCKETS + 1]; /* per bucket (not cumulative); last = +Inf */
	double sum;
	int64_t count;
};

struct route_series {
	char *route;
	int status;
	int64_t count;
};

struct route_hist {
	char *route;
	struct hist h;
};

struct model_series {
	char *model;
	int64_t prompt_tokens, cached_tokens, gen_tokens, generations;
};

struct metrics {
	pthread_mutex_t mu;
	struct route_series *req;
	size_t n_req;
	struct route_hist *dur;
	size_t n_dur;
	struct model_series *models;
	size_t n_models;
	struct hist ttft, tps;
};

struct metrics *metrics_new(void)
{
	struct metrics *m = xcalloc(1, sizeof *m);
	pthread_mutex_init(&m->mu, NULL);
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_req; i++)
		free(m->req[i].route);
	for (size_t i = 0; i < m->n_dur; i++)
		free(m->dur[i].route);
	for (size_t i = 0; i < m->n_models; i++)
		free(m->models[i].model);
	free(m->req);
	free(m->dur);
	free(m->models);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static void observe(struct hist *h, const double *bounds, int nb, double v)
{
	int i = 0;
	while (i < nb && v > bounds[i])
		i++;
	h->counts[i]++;
	h->sum += v;
	h->count++;
}

static struct route_hist *dur_series(struct metrics *m, const char *route)
{
	for (size_t i = 0; i < m->n_dur; i++)
		if (!strcmp(m->dur[i].route, route))
			return &m->dur[i];
	m->dur = xrealloc(m->dur, (m->n_dur + 1) * sizeof *m->dur);
	struct route_hist *h = &m->dur[m->n_dur++];
	memset(h, 0, sizeof *h);
	h->route = xstrdup(route);
	return h;
}

void metrics_request(struct metrics *m, const char *route, int status, int64_t dur_ns)
{
	pthread_mutex_lock(&m->mu);
	struct route_series *s = NULL;
	for (size_t i = 0; i < m->n_req && !s; i++)
		if (m->req[i].status == status && !strcmp(m->req[i].route, route))
			s = &m->req[i];
	if (!s) {
		m->req = xrealloc(m->req, (m->n_req + 1) * sizeof *m->req);
		s = &m->req[m->n_req++];
		s->route = xstrdup(route);
		s->status = status;
		s->count = 0;
	}
	s->count++;
	observe(&dur_series(m, route)->h, lat_bounds, N_LAT_BUCKETS, (double)dur_ns / 1e9);
	pthread_mutex_unlock(&m->mu);
}

static struct model_series *model_series(struct metrics *m, const char *model)
{
	for (size_t i = 0; i < m->n_models; i++)
		if (!strcmp(m->models[i].model, model))
			return &m->models[i];
	m->models = xrealloc(m->models, (m->n_models + 1) * sizeof *m->models);
	struct model_series *s = &m->models[m->n_models++];
	memset(s, 0, sizeof *s);
	s->model = xstrdup(model);
	return s;
}

void metrics_generation(struct metrics *m, const char *model, int64_t prompt_tokens,
                        int64_t cached_tokens, int64_t gen_tokens, int64_t ttft_ns, int64_t eval_ns)
{
	pthread_mutex_lock(&m->mu);
	struct model_series *s = model_series(m, model);
	s->prompt_tokens += prompt_tokens;
	s->cached_tokens += cached_tokens;
	s->gen_tokens += gen_tokens;
	s->generations++;
	if (ttft_ns >= 0)
		observe(&m->ttft, lat_bounds, N_LAT_BUCKETS, (double)ttft_ns / 1e9);
	if (gen_tokens > 0 && eval_ns > 0)
		observe(&m->tps, tps_bounds, N_TPS_BUCKETS,
		        (double)gen_tokens * 1e9 / (double)eval_ns);
	pthread_mutex_unlock(&m->mu);
}

void metrics_embedding(struct metrics *m, const char *model, int64_t tokens)
{
	pthread_mutex_lock(&m->mu);
	model_series(m, model)->prompt_tokens += tokens;
	pthread_mutex_unlock(&m->mu);
}

/* A label value, escaped as the exposition format asks (\\, \", \n). */
static void label(struct buf *out, const char *v)
{
	buf_putc(out, '"');
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			buf_putc(out, '\\');
		if (*v == '\n') {
			buf_puts(out, "\\n");
			continue;
		}
		buf_putc(out, *v);
	}
	buf_putc(out, '"');
}

static void head(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{labels,le="..."} series; labels is "" or `route="x"`. */
static void render_hist(struct buf *out, const char *name, const char *labels, const struct hist *h,
                        const double *bounds, int nb)
{
	int64_t cum = 0;
	const char *sep = *labels ? "," : "";
	for (int i = 0; i < nb; i++) {
		cum += h->counts[i];
		buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %lld\n", name, labels, sep, bounds[i],
		           (long long)cum);
	}
	cum += h->counts[nb];
	buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %lld\n", name, labels, sep, (long long)cum);
	const char *open = *labels ? "{" : "", *close = *labels ? "}" : "";
	buf_printf(out, "%s_sum%s%s%s %.9g\n%s_count%s%s%s %lld\n", name, open, labels, close,
	           h->sum, name, open, labels, close, (long long)h->count);
}

static void render_requests(struct metrics *m, struct buf *out)
{
	head(out, "gpurun_http_requests_total", "counter", "HTTP requests by route and status.");
	for (size_t i = 0; i < m->n_req; i++) {
		buf_puts(out, "gpurun_http_requests_total{route=");
		label(out, m->req[i].route);
		buf_printf(out, ",code=\"%d\"} %lld\n", m->req[i].status,
		           (long long)m->req[i].count);
	}
	head(out, "gpurun_http_request_duration_seconds", "histogram",
	     "Time from request to the end of the response.");
	for (size_t i = 0; i < m->n_dur; i++) {
		struct buf l = BUF_INIT;
		buf_puts(&l, "route=");
		label(&l, m->dur[i].route);
		render_hist(out, "gpurun_http_request_duration_seconds", l.data, &m->dur[i].h,
		            lat_bounds, N_LAT_BUCKETS);
		buf_release(&l);
	}
}

static void render_models(struct metrics *m, struct buf *out)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} ctr[] = {
	    {"gpurun_prompt_tokens_total", "Prompt (input) tokens processed, by model.",
	     offsetof(struct model_series, prompt_tokens)},
	    {"gpurun_prompt_cached_tokens_total",
	     "Prompt tokens reused from a slot's KV cache (not evaluated), by model.",
	     offsetof(struct model_series, cached_tokens)},
	    {"gpurun_generated_tokens_total", "Tokens generated, by model.",
	     offsetof(struct model_series, gen_tokens)},
	    {"gpurun_generations_total", "Generation requests completed, by model.",
	     offsetof(struct model_series, generations)},
	};
	for (size_t c = 0; c < sizeof ctr / sizeof ctr[0]; c++) {
		head(out, ctr[c].name, "counter", ctr[c].help);
		for (size_t i = 0; i < m->n_models; i++) {
			const int64_t *v =
			    (const int64_t *)((const char *)&m->models[i] + ctr[c].off);
			buf_printf(out, "%s{model=", ctr[c].name);
			label(out, m->models[i].model);
			buf_printf(out, "} %lld\n", (long long)*v);
		}
	}
}

void metrics_render(struct metrics *m, const struct metrics_gauges *g, struct buf *out)
{
	pthread_mutex_lock(&m->mu);
	render_requests(m, out);
	render_models(m, out);
	head(out, "gpurun_time_to_first_token_seconds", "histogram",
	     "Time from request to the first generated token.");
	render_hist(out, "gpurun_time_to_first_token_seconds", "", &m->ttft, lat_bounds,
	            N_LAT_BUCKETS);
	head(out, "gpurun_tokens_per_second", "histogram",
	     "Decode speed of each generation (generated tokens / eval time).");
	render_hist(out, "gpurun_tokens_per_second", "", &m->tps, tps_bounds, N_TPS_BUCKETS);
	pthread_mutex_unlock(&m->mu);
	head(out, "gpurun_models_loaded", "gauge", "Models loaded (or loading).");
	buf_printf(out, "gpurun_models_loaded %d\n", g->models_loaded);
	head(out, "gpurun_queue_depth", "gauge", "Requests waiting for a model or a slot.");
	buf_printf(out, "gpurun_queue_depth %d\n", g->queue_depth);
	head(out, "gpurun_running_sequences", "gauge", "Sequences generating now.");
	buf_printf(out, "gpurun_running_sequences %d\n", g->running);
	head(out, "gpurun_model_loads_total", "counter", "Models loaded since start.");
	buf_printf(out, "gpurun_model_loads_total %lld\n", (long long)g->loads);
	head(out, "gpurun_model_unloads_total", "counter", "Models unloaded since start.");
	buf_printf(out, "gpurun_model_unloads_total %lld\n", (long long)g->unloads);
}
