/* pack.c — engine__pack_weights(): after load, the model's matrices whose
 * type has a packed form (quant.h pack16) are rewritten into it once, so
 * decode reads each 16-row stripe as one stream (quant_r16_avx512.h). The
 * packed copy lives in an anonymous mapping that mirrors the file (a tensor
 * at offset o of the file is packed at o of the mirror, so row views of a
 * fused tensor stay views), and the file pages it replaces are dropped from
 * the process: resident memory stays the model's size. Not here: the CPU
 * only — a model on the GPU uploads the file's own layout. */
#include "engine/engine_internal.h"

#include "base/log.h"
#include "base/timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define STRIPES_PER_CHUNK 32 /* stripes a thread takes at once */

struct pack_job {
	struct tensor **t; /* the tensors to pack */
	int n;
	int64_t *first; /* (n + 1) first global stripe of each tensor */
	uint8_t *mirror;
	const uint8_t *map;
	int fd;            /* the file, read with pread; -1: read the mapping */
	size_t max_stripe; /* bytes of the biggest stripe */
	atomic_llong next;
};

static void free_buf(uint8_t **p)
{
	free(*p);
}

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

static void pack_thread(void *arg, int ith, int nth)
{
	(void)ith;
	(void)nth;
	struct pack_job *j = arg;
	int64_t total = j->first[j->n];
	uint8_t *buf __attribute__((cleanup(free_buf))) = malloc(j->max_stripe);
	for (;;) {
		int64_t s0 = atomic_fetch_add(&j->next, STRIPES_PER_CHUNK);
		if (s0 >= total)
			return;
		int64_t s1 = s0 + STRIPES_PER_CHUNK < total ? s0 + STRIPES_PER_CHUNK : total;
		int i = 0;
		for (int64_t s = s0; s < s1; s++) {
			while (s >= j->first[i + 1])
				i++;
			const struct tensor *t = j->t[i];
			size_t off = (size_t)(s - j->first[i]) * 16 * t->row_bytes;
			t->qt->pack16(source(j, t->data + off, 16 * t->row_bytes, buf),
			              t->row_bytes, packed_addr(j, t) + off);
		}
	}
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

/* The model's matrices that have a packed form, their stripes numbered
 * across all of them; false when there is none (or no memory). */
static bool collect(struct engine_model *m, struct pack_job *j)
{
	enum { PER_LAYER = 7 };
	int cap = m->hp.n_layer * PER_LAYER + 1;
	j->t = calloc((size_t)cap, sizeof *j->t);
	j->first = calloc((size_t)cap + 1, sizeof *j->first);
	if (!j->t || !j->first)
		return false;
	for (int il = 0; il < m->hp.n_layer; il++) {
		struct layer *L = &m->layers[il];
		struct tensor *ts[PER_LAYER] = {&L->wq,       &L->wk,     &L->wv,      &L->wo,
		                                &L->ffn_gate, &L->ffn_up, &L->ffn_down};
		for (int k = 0; k < PER_LAYER; k++)
			add(m, j, ts[k]);
	}
	add(m, j, &m->output);
	for (int i = 0; i < j->n; i++) {
		j->first[i + 1] = j->first[i] + j->t[i]->n_out / 16;
		if (16 * j->t[i]->row_bytes > j->max_stripe)
			j->max_stripe = 16 * j->t[i]->row_bytes;
	}
	return j->n > 0;
}

/* The tensors point at their packed copies; the file's pages go. */
static size_t adopt(struct engine_model *m, struct pack_job *j)
{
	size_t bytes = 0;
	for (int i = 0; i < j->n; i++) {
		struct tensor *t = j->t[i];
		t->data = packed_addr(j, t);
		t->packed = true;
		bytes += (size_t)t->n_out * t->row_bytes;
	}
	/* whatever touched the file's pages; the token embeddings and any
	 * matrix left in the file's layout come back as they are read */
	drop_pages(m->gguf->map + m->gguf->data_offset, m->gguf->size - m->gguf->data_offset,
	           (size_t)sysconf(_SC_PAGESIZE));
	m->mirror = j->mirror;
	m->mirror_size = m->gguf->size;
	m->info.packed_bytes = (int64_t)bytes;
	return bytes;
}

void engine__pack_weights(struct engine_model *m)
{
	if (!wanted() || m->mirror)
		return;
	int64_t t0 = time_mono_ns();
	struct pack_job j = {.map = m->gguf->map, .fd = -1};
	if (!collect(m, &j))
		goto out;
	j.mirror = mmap(NULL, m->gguf->size, PROT_READ | PROT_WRITE,
	                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (j.mirror == MAP_FAILED) {
		log_warn("engine: packing the weights: no memory for the copy, using the file's "
		         "layout");
		goto out;
	}
	(void)madvise(j.mirror, m->gguf->size, MADV_HUGEPAGE);
	j.fd = m->gguf->path ? open(m->gguf->path, O_RDONLY | O_CLOEXEC) : -1;
	threadpool_run(m->run.tp, pack_thread, &j);
	relocate_vectors(m, &j);
	if (j.fd >= 0)
		close(j.fd);
	size_t bytes = adopt(m, &j);
	log_debug("engine: %d matrices (%.1f MiB) packed in %.1f ms", j.n, bytes / 1048576.0,
	          (time_mono_ns() - t0) / 1e6);
out:
	free(j.t);
	free(j.first);
}

void engine__pack_release(struct engine_model *m)
{
	if (m->mirror)
		munmap(m->mirror, m->mirror_size);
	m->mirror = NULL;
}
