/* backend.c — the backends of the engine (backend.h): the CPU one (the
 * thread-pool pass of forward.c), the CUDA one (cuda_*.c), and the choice
 * between them at load with its reasons. Not here: either pass itself. */
#include "engine/backend.h"

#include "base/buf.h"
#include "base/log.h"
#include "engine/cuda_internal.h"
#include "engine/engine_internal.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static const struct backend_ops cpu_ops = {.name = "cpu", .forward = forward__run, .host_kv = true};

static void cuda_release(struct engine_model *m)
{
	cuda__model_free(m->be_state);
	m->be_state = NULL;
}

static const struct backend_ops cuda_ops = {
    .name = "cuda",
    .forward = cuda__forward,
    .seq_init = cuda__seq_kv_new,
    .seq_release = cuda__seq_kv_free,
    .model_release = cuda_release,
    .host_kv = false,
};

int backend__gpu_layers_wanted(int param, bool *explicit_)
{
	int64_t v;
	const char *env = getenv("GPURUN_NUM_GPU");
	*explicit_ = param > 0;
	if (param >= 0)
		return param;
	if (env && *env && str_to_i64(env, &v)) {
		*explicit_ = v > 0;
		return v < 0 ? -1 : v > INT_MAX ? INT_MAX : (int)v;
	}
	return -1;
}

static void note(struct engine_model *m, bool loud, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m->backend_note, sizeof m->backend_note, fmt, ap);
	va_end(ap);
	if (loud)
		log_warn("engine: GPU layers were requested, running on the CPU: %s",
		         m->backend_note);
	else
		log_debug("engine: running on the CPU: %s", m->backend_note);
}

void backend__init(struct engine_model *m, const struct engine_load_params *p)
{
	char err[ERR_MSG_LEN], why[160];
	bool loud;
	m->be = &cpu_ops;
	m->be_state = NULL;
	snprintf(m->backend_name, sizeof m->backend_name, "cpu");
	m->backend_note[0] = '\0';
	m->info.backend = m->backend_name;
	m->info.backend_note = m->backend_note;
	m->info.n_gpu_layers = 0;
	int want = backend__gpu_layers_wanted(p->n_gpu_layers, &loud);
	if (p->vocab_only || want == 0)
		return;
	struct cuda_dev *d = cuda__dev_get(err);
	struct cuda_model *cm = NULL;
	if (!d) {
		note(m, loud, "%s", err);
		return;
	}
	if (want > 0 && want < m->hp.n_layer) {
		note(m, true,
		     "num_gpu %d of %d layers: partial offload is not implemented (use 0 or "
		     ">= %d)",
		     want, m->hp.n_layer, m->hp.n_layer);
		return;
	}
	if (cuda__model_unsupported(m, why, sizeof why)) {
		note(m, loud, "%s: %s", d->name, why);
		return;
	}
	if (cuda__model_new(m, d, &cm, err)) {
		note(m, loud, "%s", err);
		return;
	}
	m->be = &cuda_ops;
	m->be_state = cm;
	snprintf(m->backend_name, sizeof m->backend_name, "%s", d->desc);
	m->info.n_gpu_layers = m->hp.n_layer + 1; /* as Ollama counts: the output too */
	log_debug("engine: %s, %.1f MiB of weights uploaded in %.1f ms", d->desc,
	          cm->weights_bytes / 1048576.0, cm->upload_ns / 1e6);
}

void backend__release(struct engine_model *m)
{
	if (m->be && m->be->model_release)
		m->be->model_release(m);
	m->be = NULL;
}

int backend__forward(struct engine_model *m, const struct fwd_row *rows, int64_t n, float *embd_sum,
                     const atomic_bool *cancel)
{
	return m->be->forward(m, rows, n, embd_sum, cancel);
}

int backend__seq_init(struct engine_seq *s, char *err)
{
	const struct backend_ops *be = s->m->be;
	return be && be->seq_init ? be->seq_init(s, err) : 0;
}

void backend__seq_release(struct engine_seq *s)
{
	const struct backend_ops *be = s->m->be;
	if (be && be->seq_release)
		be->seq_release(s);
}

bool backend__host_kv(const struct engine_model *m)
{
	return !m->be || m->be->host_kv;
}
