/* cuda_graph.c — decode passes as CUDA graphs: the launches of a pass of a
 * given shape (rows, logit rows, attention chunks) are captured once from
 * the stream and then replayed with one cuGraphLaunch, which removes the
 * host's per-launch cost (a pass is ~20 launches per layer). Every kernel
 * reads what changes between steps (tokens, positions, RoPE tables, KV
 * addresses) from the step buffer, uploaded before the replay, so a graph
 * stays valid until the pass buffers are reallocated. GPURUN_CUDA_GRAPH=0
 * turns graphs off. Not here: what a pass launches (cuda_forward.c). */
#include "engine/cuda_internal.h"

#include "base/log.h"

#include <stdlib.h>
#include <string.h>

static void drop(struct cuda_model *cm, struct cuda_graph *g)
{
	const struct cuda_api *a = &cm->dev->api;
	if (g->exec)
		a->cuGraphExecDestroy(g->exec);
	if (g->graph)
		a->cuGraphDestroy(g->graph);
	memset(g, 0, sizeof *g);
}

void cuda__graphs_clear(struct cuda_model *cm)
{
	for (int i = 0; i < CUDA_MAX_GRAPHS; i++)
		if (cm->graphs[i].exec || cm->graphs[i].graph)
			drop(cm, &cm->graphs[i]);
}

static bool usable(struct cuda_model *cm)
{
	const struct cuda_api *a = &cm->dev->api;
	const char *env = getenv("GPURUN_CUDA_GRAPH");
	if (env && !strcmp(env, "0"))
		return false;
	return !cm->graphs_off && a->cuStreamBeginCapture && a->cuStreamEndCapture &&
	       a->cuGraphInstantiateWithFlags && a->cuGraphLaunch && a->cuGraphExecDestroy &&
	       a->cuGraphDestroy;
}

/* Captures a new graph into a free (or the least recently used) slot. */
static struct cuda_graph *capture(struct cuda_model *cm, int (*enqueue)(struct cuda_pass *),
                                  struct cuda_pass *ps, int *rc)
{
	const struct cuda_api *a = &cm->dev->api;
	struct cuda_graph *g = &cm->graphs[0];
	for (int i = 1; i < CUDA_MAX_GRAPHS; i++)
		if (cm->graphs[i].used < g->used)
			g = &cm->graphs[i];
	drop(cm, g);
	*rc = cuda__check(cm->dev,
	                  a->cuStreamBeginCapture(cm->stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
	                  "cuStreamBeginCapture");
	if (*rc)
		return NULL;
	int erc = enqueue(ps);
	CUresult r = a->cuStreamEndCapture(cm->stream, &g->graph);
	if (erc) { /* a launch failed: nothing of this capture is kept */
		drop(cm, g);
		*rc = erc;
		return NULL;
	}
	if (r == CUDA_SUCCESS && g->graph)
		r = a->cuGraphInstantiateWithFlags(&g->exec, g->graph, 0);
	if (r != CUDA_SUCCESS || !g->exec) {
		/* launch with the stream again; a driver that cannot capture keeps
		 * launching directly from now on */
		log_warn("cuda: capturing a pass failed (%s); CUDA graphs are off",
		         cuda__strerror(a, r));
		drop(cm, g);
		cm->graphs_off = true;
		return NULL;
	}
	return g;
}

int cuda__graph_run(struct cuda_model *cm, int64_t n, int64_t n_out, int32_t n_chunks,
                    int (*enqueue)(struct cuda_pass *), struct cuda_pass *ps)
{
	if (n > CUDA_GRAPH_ROWS || !usable(cm))
		return 1;
	struct cuda_graph *g = NULL;
	for (int i = 0; i < CUDA_MAX_GRAPHS && !g; i++) {
		struct cuda_graph *c = &cm->graphs[i];
		if (c->exec && c->n == n && c->n_out == n_out && c->n_chunks == n_chunks)
			g = c;
	}
	int rc = 0;
	if (!g) {
		g = capture(cm, enqueue, ps, &rc);
		if (!g)
			return rc ? rc : 1;
		g->n = n, g->n_out = n_out, g->n_chunks = n_chunks;
	}
	g->used = ++cm->graph_clock;
	return cuda__check(cm->dev, cm->dev->api.cuGraphLaunch(g->exec, cm->stream),
	                   "cuGraphLaunch");
}
