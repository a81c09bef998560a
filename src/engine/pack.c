/* pack.c — engine__pack_start(): after load, the model's matrices whose
 * type has a packed form (quant.h pack16) are rewritten into it, so decode
 * reads each 16-row stripe as one stream (quant_r16_avx512.h). A thread of
 * its own packs them one after the other in the background, so a cold
 * start's first tokens do not wait for it: they run in the file's layout,
 * and each matrix switches to its packed copy between two passes (under
 * the runner lock) once it is whole. The copy lives in an anonymous mapping
 * that mirrors the file (a tensor at offset o of the file is packed at o of
 * the mirror, so row views of a fused tensor stay views), and the file
 * pages it replaces are dropped from the process: resident memory stays
 * the model's size. Not here: the CPU only — a model on the GPU uploads
 * the file's own layout. */
#include "engine/engine_internal.h"

#include "base/log.h"
#include "base/timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

struct pack_job {
	struct tensor **t; /* the tensors to pack */
	int n;
	uint8_t *mirror;
	const uint8_t *map;
	int fd;            /* the file, read with pread; -1: read the mapping */
	size_t max_stripe; /* bytes of the biggest stripe */
};

struct engine_packer {
	struct pack_job j;
	pthread_t thread;
	atomic_bool stop; /* the model is being freed */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done; /* under mu */
	int64_t t0;
};

static uint8_t *packed_addr(const struct pack_job *j, const struct tensor *t)
{
	return j->mirror + (t->data - j->map);
}

/* The file's whole pages inside [p, p + n), now that nothing reads them
 * (they stay in the page cache): whatever touched them before packing. */
static void drop_pages(const uint8_t *p, size_t n, size_t page)
{
	uintptr_t a = ((uintptr_t)p + page - 1) & ~(uintptr_t)(page - 1);
	uintptr_t b = ((uintptr_t)p + n) & ~(uintptr_t)(page - 1);
	if (a < b)
		(void)madvise((void *)a, b - a, MADV_DONTNEED);
}

/* The n bytes of the file at p: read into buf, so that the file's pages
 * are never mapped into the process beside their packed copy; the mapping
 * itself when the file cannot be read. */
static const uint8_t *source(const struct pack_job *j, const uint8_t *p, size_t n, uint8_t *buf)
{
	size_t got = 0;
	while (buf && j->fd >= 0 && got < n) {
		ssize_t r = pread(j->fd, buf + got, n - got, (off_t)(p - j->map) + (off_t)got);
		if (r <= 0 && !(r < 0 && errno == EINTR))
			break;
		got += r > 0 ? (size_t)r : 0;
	}
	return got == n ? buf : p;
}

static bool packable(const struct engine_model *m, const struct tensor *t)
{
	return t->data && !t->packed && t->qt->pack16 && t->qt->gemm_packed && t->n_out % 16 == 0 &&
	       t->data != m->tok_embd.data;
}

/* Adds t unless it is absent, has no packed form, or shares rows with a
 * tensor already in the list. */
static void add(const struct engine_model *m, struct pack_job *j, struct tensor *t)
{
	if (!packable(m, t))
		return;
	const uint8_t *a = t->data, *b = a + (size_t)t->n_out * t->row_bytes;
	for (int i = 0; i < j->n; i++) {
		const uint8_t *c = j->t[i]->data,
		              *d = c + (size_t)j->t[i]->n_out * j->t[i]->row_bytes;
		if (a < d && c < b)
			return;
	}
	j->t[j->n++] = t;
}

/* Points *p, a vector the pass reads every time, at a copy of its tensor
 * in the mirror: read from the mapping, a few KiB would map the file's
 * neighbouring pages (up to a large folio of them) beside their packed
 * copy, so it is read with pread too. */
static void relocate(const struct pack_job *j, const struct gguf_file *g, const float **p)
{
	const uint8_t *q = (const uint8_t *)*p;
	if (!q || q < g->map || q >= g->map + g->size)
		return;
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const uint8_t *a = g->tensors[i].data;
		size_t n = g->tensors[i].nbytes;
		if (q >= a && q < a + n) {
			uint8_t *to = j->mirror + (a - g->map);
			if (source(j, a, n, to) != to)
				memcpy(to, a, n);
			*p = (const float *)(j->mirror + (q - g->map));
			return;
		}
	}
}

static void relocate_vectors(struct engine_model *m, const struct pack_job *j)
{
	for (int il = 0; il < m->hp.n_layer; il++) {
		struct layer *L = &m->layers[il];
		const float **v[] = {&L->attn_norm,    &L->bq,     &L->bk,       &L->bv,
		                     &L->q_norm,       &L->k_norm, &L->ffn_norm, &L->post_attn_norm,
		                     &L->post_ffn_norm};
		for (size_t k = 0; k < sizeof v / sizeof v[0]; k++)
			relocate(j, m->gguf, v[k]);
	}
	relocate(j, m->gguf, &m->output_norm);
	relocate(j, m->gguf, &m->output_bias);
	relocate(j, m->gguf, &m->hp.rope_freqs);
}

static bool wanted(void)
{
	const char *e = getenv("GPURUN_PACK");
	return !e || strcmp(e, "0") != 0;
}

/* The model's matrices that have a packed form; false when there is none
 * (or no memory). */
static bool collect(struct engine_model *m, struct pack_job *j)
{
	enum { PER_LAYER = 7 };
	int cap = m->hp.n_layer * PER_LAYER + 1;
	j->t = calloc((size_t)cap, sizeof *j->t);
	if (!j->t)
		return false;
	for (int il = 0; il < m->hp.n_layer; il++) {
		struct layer *L = &m->layers[il];
		struct tensor *ts[PER_LAYER] = {&L->wq,       &L->wk,     &L->wv,      &L->wo,
		                                &L->ffn_gate, &L->ffn_up, &L->ffn_down};
		for (int k = 0; k < PER_LAYER; k++)
			add(m, j, ts[k]);
	}
	add(m, j, &m->output);
	for (int i = 0; i < j->n; i++)
		if (16 * j->t[i]->row_bytes > j->max_stripe)
			j->max_stripe = 16 * j->t[i]->row_bytes;
	return j->n > 0;
}

/* Tensor t, packed whole, replaces the file's rows: called between two
 * passes (the runner lock held). */
static void adopt(struct engine_model *m, struct pack_job *j, struct tensor *t)
{
	size_t bytes = (size_t)t->n_out * t->row_bytes, page = (size_t)sysconf(_SC_PAGESIZE);
	const uint8_t *old = t->data;
	t->data = packed_addr(j, t);
	t->packed = true;
	drop_pages(old, bytes, page);
	m->info.packed_bytes += (int64_t)bytes;
}

/* Packs j's tensors one by one; false when stopped. */
static bool pack_all(struct engine_model *m, struct engine_packer *p, uint8_t *buf)
{
	struct pack_job *j = &p->j;
	for (int i = 0; i < j->n; i++) {
		struct tensor *t = j->t[i];
		for (int64_t s = 0; s < t->n_out / 16; s++) {
			if (atomic_load(&p->stop))
				return false;
			size_t off = (size_t)s * 16 * t->row_bytes;
			t->qt->pack16(source(j, t->data + off, 16 * t->row_bytes, buf),
			              t->row_bytes, packed_addr(j, t) + off);
		}
		pthread_mutex_lock(&m->run.mu);
		if (i == 0)
			relocate_vectors(m, j);
		adopt(m, j, t);
		pthread_mutex_unlock(&m->run.mu);
	}
	return true;
}

static void *packer_main(void *arg)
{
	struct engine_model *m = arg;
	struct engine_packer *p = m->packer;
	/* the lowest priority (on Linux, for this thread only): where the
	 * passes keep every core busy, as a cold start's first request on one
	 * core does, packing takes what they leave instead of delaying the
	 * first token; it still finishes, and runs at full speed when idle */
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), 19);
	uint8_t *buf = malloc(p->j.max_stripe);
	bool whole = pack_all(m, p, buf);
	free(buf);
	if (whole) {
		/* whatever else touched the file's pages; the token embeddings
		 * and any matrix left in the file's layout come back as read */
		pthread_mutex_lock(&m->run.mu);
		drop_pages(m->gguf->map + m->gguf->data_offset,
		           m->gguf->size - m->gguf->data_offset, (size_t)sysconf(_SC_PAGESIZE));
		pthread_mutex_unlock(&m->run.mu);
		log_debug("engine: %d matrices (%.1f MiB) packed in %.1f ms", p->j.n,
		          m->info.packed_bytes / 1048576.0, (time_mono_ns() - p->t0) / 1e6);
	}
	pthread_mutex_lock(&p->mu);
	p->done = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void packer_free(struct engine_packer *p)
{
	if (p->j.fd >= 0)
		close(p->j.fd);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->j.t);
	free(p);
}

void engine__pack_start(struct engine_model *m)
{
	if (!wanted() || m->packer)
		return;
	struct engine_packer *p = calloc(1, sizeof *p);
	if (!p)
		return;
	p->j = (struct pack_job){.map = m->gguf->map, .fd = -1};
	p->t0 = time_mono_ns();
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (!collect(m, &p->j))
		goto out_free;
	p->j.mirror = mmap(NULL, m->gguf->size, PROT_READ | PROT_WRITE,
	                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p->j.mirror == MAP_FAILED) {
		log_warn("engine: packing the weights: no memory for the copy, using the file's "
		         "layout");
		goto out_free;
	}
	(void)madvise(p->j.mirror, m->gguf->size, MADV_HUGEPAGE);
	p->j.fd = m->gguf->path ? open(m->gguf->path, O_RDONLY | O_CLOEXEC) : -1;
	m->packer = p;
	if (pthread_create(&p->thread, NULL, packer_main, m) != 0) {
		m->packer = NULL;
		munmap(p->j.mirror, m->gguf->size);
		goto out_free;
	}
	return;
out_free:
	packer_free(p);
}

void engine_model_wait_packed(struct engine_model *m)
{
	struct engine_packer *p = m ? m->packer : NULL;
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	while (!p->done)
		pthread_cond_wait(&p->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

void engine__pack_release(struct engine_model *m)
{
	struct engine_packer *p = m->packer;
	if (!p)
		return;
	atomic_store(&p->stop, true);
	pthread_join(p->thread, NULL);
	munmap(p->j.mirror, m->gguf->size);
	packer_free(p);
	m->packer = NULL;
}
