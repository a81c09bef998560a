/* gguf_fuzz.c — libFuzzer target for the GGUF reader: any byte string must
 * open or fail with a message, never crash or read outside the input. On
 * success it walks every value and tensor the way a loader would, so a
 * pointer the reader handed out that lies outside the input is caught. */
#include "gguf/gguf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static volatile uint64_t sink;

static void walk(const struct gguf_value *v)
{
	if (v->type == GGUF_VT_STRING) {
		for (size_t i = 0; i < v->v.str.n; i++)
			sink += (uint8_t)v->v.str.p[i];
		return;
	}
	if (v->type != GGUF_VT_ARRAY) {
		sink += v->v.u64;
		return;
	}
	for (uint64_t i = 0; i < v->v.arr.n; i++) {
		if (v->v.arr.type == GGUF_VT_ARRAY)
			walk(&v->v.arr.values[i]);
		else if (v->v.arr.type == GGUF_VT_STRING)
			sink += gguf_arr_get_str(v, i).n;
		else {
			double x = gguf_arr_get_f64(v, i);
			sink += (uint64_t)gguf_arr_get_i64(v, i);
			if (x > -1e18 && x < 1e18) /* false for NaN */
				sink += (uint64_t)(int64_t)x;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy so ASan flags any read past the end. */
	uint8_t *p = malloc(size ? size : 1);
	if (!p)
		return 0;
	memcpy(p, data, size);
	char err[ERR_MSG_LEN];
	struct gguf_file *f = gguf_open_memory(p, size, err);
	if (!f) {
		if (!err[0] || !memchr(err, '\0', sizeof err))
			abort(); /* a failure must come with a message */
		free(p);
		return 0;
	}
	for (uint64_t i = 0; i < f->n_kv; i++) {
		walk(&f->kv[i].value);
		char key[64];
		size_t n = f->kv[i].key.n < sizeof key - 1 ? f->kv[i].key.n : sizeof key - 1;
		memcpy(key, f->kv[i].key.p, n);
		key[n] = '\0';
		uint32_t u;
		gguf_get_u32(f, key, &u, err);
	}
	for (uint64_t i = 0; i < f->n_tensors; i++) {
		const struct gguf_tensor *t = &f->tensors[i];
		const uint8_t *d = t->data;
		sink += d[0] + d[t->nbytes - 1];
		if (gguf_find_tensor(f, "token_embd.weight"))
			sink++;
	}
	sink += gguf_param_count(f);
	sink += strlen(gguf_quantization(f));
	gguf_close(f);
	free(p);
	return 0;
}
