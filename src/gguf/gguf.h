/* gguf.h — GGUF v2/v3 files: a reader over a read-only mmap and a writer.
 *
 * Reader invariants: gguf_open() validates the whole header before it
 * returns — magic, version, every count, string length, array length, tensor
 * shape, type and data offset — against the file size with overflow-checked
 * arithmetic. A truncated or hostile file yields NULL and a one-line message
 * in err naming the field and its byte offset; nothing past a successful
 * gguf_open() can read outside the mapping.
 *
 * Ownership: the struct gguf_file owns the mapping. Every pointer it hands out
 * (key names, string values, array data, tensor names, tensor data) points
 * into the mapping or into the file's own tables and lives until
 * gguf_close(). Strings in the file are not NUL-terminated: they are slices.
 * Tensor data is never copied (DESIGN.md: cold start = mmap + first touch).
 * An open gguf_file is immutable: any number of threads may read it.
 * Little-endian hosts only. */
#ifndef GPURUN_GGUF_H
#define GPURUN_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

#define GGUF_MAGIC             0x46554747u /* "GGUF" little-endian */
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS          4

/* Metadata value types, numbered as in the GGUF spec. */
enum gguf_vtype {
	GGUF_VT_UINT8 = 0,
	GGUF_VT_INT8 = 1,
	GGUF_VT_UINT16 = 2,
	GGUF_VT_INT16 = 3,
	GGUF_VT_UINT32 = 4,
	GGUF_VT_INT32 = 5,
	GGUF_VT_FLOAT32 = 6,
	GGUF_VT_BOOL = 7,
	GGUF_VT_STRING = 8,
	GGUF_VT_ARRAY = 9,
	GGUF_VT_UINT64 = 10,
	GGUF_VT_INT64 = 11,
	GGUF_VT_FLOAT64 = 12,
	GGUF_VT_COUNT
};

/* Tensor element types, numbered as ggml numbers them in GGUF files. */
enum ggml_type {
	GGML_TYPE_F32 = 0,
	GGML_TYPE_F16 = 1,
	GGML_TYPE_Q4_0 = 2,
	GGML_TYPE_Q4_1 = 3,
	GGML_TYPE_Q5_0 = 6,
	GGML_TYPE_Q5_1 = 7,
	GGML_TYPE_Q8_0 = 8,
	GGML_TYPE_Q8_1 = 9,
	GGML_TYPE_Q2_K = 10,
	GGML_TYPE_Q3_K = 11,
	GGML_TYPE_Q4_K = 12,
	GGML_TYPE_Q5_K = 13,
	GGML_TYPE_Q6_K = 14,
	GGML_TYPE_Q8_K = 15,
	GGML_TYPE_IQ2_XXS = 16,
	GGML_TYPE_IQ2_XS = 17,
	GGML_TYPE_IQ3_XXS = 18,
	GGML_TYPE_IQ1_S = 19,
	GGML_TYPE_IQ4_NL = 20,
	GGML_TYPE_IQ3_S = 21,
	GGML_TYPE_IQ2_S = 22,
	GGML_TYPE_IQ4_XS = 23,
	GGML_TYPE_I8 = 24,
	GGML_TYPE_I16 = 25,
	GGML_TYPE_I32 = 26,
	GGML_TYPE_I64 = 27,
	GGML_TYPE_F64 = 28,
	GGML_TYPE_IQ1_M = 29,
	GGML_TYPE_BF16 = 30,
	GGML_TYPE_TQ1_0 = 34,
	GGML_TYPE_TQ2_0 = 35,
	GGML_TYPE_MXFP4 = 39,
	GGML_TYPE_COUNT = 40
};

/* Storage layout of a tensor type: elements per block and bytes per block.
 * NULL for a type number this build does not know. */
struct ggml_type_layout {
	const char *name;   /* "Q4_K" */
	int64_t block_size; /* elements per block (1 for F32/F16/BF16) */
	size_t type_size;   /* bytes per block */
};
const struct ggml_type_layout *ggml_type_layout(int type);
/* Bytes of a row of n elements; 0 when n is not a positive multiple of the
 * block, or the size overflows. */
size_t ggml_row_size(int type, int64_t n);
/* "Q4_K", or "unknown". */
const char *ggml_type_name(int type);
/* The type named (case-insensitive, "q4_k" or "Q4_K"), or -1. */
int ggml_type_from_name(const char *name);
/* "uint32", "string", ... or "unknown". */
const char *gguf_vtype_name(int t);
/* llama.cpp's general.file_type (enum llama_ftype) as Ollama prints it
 * ("Q4_K_M", "F16"); NULL for an unknown number. */
const char *gguf_file_type_name(uint32_t ftype);

/* A metadata value. For arrays, `arr` describes the elements; nested arrays
 * are arrays of struct gguf_value (in `arr.values`). */
struct gguf_value {
	enum gguf_vtype type;
	union {
		uint64_t u64; /* UINT8..UINT64 and BOOL, widened */
		int64_t i64;  /* INT8..INT64, sign-extended */
		double f64;   /* FLOAT32, FLOAT64 */
		struct slice str;
		struct {
			enum gguf_vtype type; /* element type */
			uint64_t n;           /* element count */
			/* scalars: n packed little-endian elements in the mapping */
			const void *data;
			/* STRING elements: n slices; ARRAY elements: n values */
			const struct slice *strs;
			const struct gguf_value *values;
		} arr;
	} v;
};

/* Element i of a scalar array (caller keeps i < arr.n). The data in the
 * mapping may be unaligned: read elements through these, not by casting.
 * _i64 takes any integer or bool element (UINT64 past INT64_MAX wraps;
 * 0 for float elements); _f64 takes floats and integers. */
int64_t gguf_arr_get_i64(const struct gguf_value *a, uint64_t i);
double gguf_arr_get_f64(const struct gguf_value *a, uint64_t i);
/* Element i of a STRING array. */
struct slice gguf_arr_get_str(const struct gguf_value *a, uint64_t i);

struct gguf_kv {
	struct slice key;
	struct gguf_value value;
	uint64_t offset; /* byte offset of the key in the file, for messages */
};

struct gguf_tensor {
	struct slice name;
	int n_dims;
	int64_t ne[GGUF_MAX_DIMS]; /* ne[0] = row length; unused dims are 1 */
	int type;                  /* enum ggml_type */
	uint64_t offset;           /* relative to the data section */
	const void *data;          /* in the mapping; offset a multiple of alignment */
	size_t nbytes;             /* > 0: every ne is >= 1 */
	uint64_t info_offset;      /* byte offset of this tensor's info, for messages */
};

struct gguf_file {
	uint32_t version;
	uint64_t n_kv;
	struct gguf_kv *kv;
	uint64_t n_tensors;
	struct gguf_tensor *tensors;
	size_t alignment;
	uint64_t data_offset; /* start of the tensor data section */
	const uint8_t *map;
	size_t size;
	char *path;
	/* private: */
	void *priv;
};

/* Maps and validates path. NULL and a message in err on any problem.
 * Beyond the format itself it requires: unique keys and tensor names,
 * n_dims 1..4, every ne >= 1, ne[0] a multiple of the type's block size, a
 * known tensor type, data offsets aligned, inside the file and not
 * overlapping, general.alignment (if present) an integer power of two, bools
 * 0 or 1, arrays nested at most 8 deep. kv and tensors keep file order. */
struct gguf_file *gguf_open(const char *path, char err[ERR_MSG_LEN]);
/* Validates a file image already in memory (tests, fuzzing); the caller
 * keeps p alive and unchanged until gguf_close(). */
struct gguf_file *gguf_open_memory(const void *p, size_t n, char err[ERR_MSG_LEN]);
void gguf_close(struct gguf_file *f); /* NULL is a no-op */

const struct gguf_kv *gguf_find_key(const struct gguf_file *f, const char *key);
const struct gguf_tensor *gguf_find_tensor(const struct gguf_file *f, const char *name);

/* Typed getters: 0 on success; ERR_NOT_FOUND when the key is absent (err
 * says so too); ERR_INVALID (message in err, naming the key) when its type
 * does not fit. Integer getters accept any integer type whose value fits;
 * gguf_get_f32 accepts floats and integers. err may be NULL. */
int gguf_get_u32(const struct gguf_file *f, const char *key, uint32_t *out, char *err);
int gguf_get_i64(const struct gguf_file *f, const char *key, int64_t *out, char *err);
int gguf_get_u64(const struct gguf_file *f, const char *key, uint64_t *out, char *err);
int gguf_get_f32(const struct gguf_file *f, const char *key, float *out, char *err);
int gguf_get_bool(const struct gguf_file *f, const char *key, bool *out, char *err);
int gguf_get_str(const struct gguf_file *f, const char *key, struct slice *out, char *err);
/* The ARRAY value of key, whose elements must be of type elem (GGUF_VT_COUNT:
 * any element type); read it through out->v.arr and gguf_arr_get_*. */
int gguf_get_arr(const struct gguf_file *f, const char *key, enum gguf_vtype elem,
                 const struct gguf_value **out, char *err);
/* "general.architecture", or "" when absent. Static slice into the file. */
struct slice gguf_arch(const struct gguf_file *f);
/* Looks up "<general.architecture>.<suffix>" ("context_length"). */
const struct gguf_kv *gguf_find_arch_key(const struct gguf_file *f, const char *suffix);

/* Sum of the element counts of all tensors (Ollama's parameter count). */
uint64_t gguf_param_count(const struct gguf_file *f);
/* A parameter count as Ollama prints it: "260.1K", "1.1B", "7B", "512". */
void gguf_format_count(uint64_t n, char out[16]);
/* The quantization label: general.file_type's name when present and known,
 * else the type holding the most bytes among 2-D+ tensors (all tensors when
 * there are none), else "unknown". Static string. */
const char *gguf_quantization(const struct gguf_file *f);

/* Writer: collect metadata and tensors, then write the file atomically.
 * Tensor data is copied at add time (or referenced with _ref while the
 * source stays alive, or produced at write time by a callback with _fn);
 * alignment comes from general.alignment if set (a power of two).
 * Setting a key that exists replaces its value in place; keys keep the order
 * of first setting. The set_* calls abort on out-of-memory (bookkeeping). */
struct gguf_writer;
struct gguf_writer *gguf_writer_new(void);
void gguf_writer_free(struct gguf_writer *w);
void gguf_writer_set_u32(struct gguf_writer *w, const char *key, uint32_t v);
void gguf_writer_set_i32(struct gguf_writer *w, const char *key, int32_t v);
void gguf_writer_set_u64(struct gguf_writer *w, const char *key, uint64_t v);
void gguf_writer_set_i64(struct gguf_writer *w, const char *key, int64_t v);
void gguf_writer_set_f64(struct gguf_writer *w, const char *key, double v);
void gguf_writer_set_f32(struct gguf_writer *w, const char *key, float v);
void gguf_writer_set_bool(struct gguf_writer *w, const char *key, bool v);
void gguf_writer_set_str(struct gguf_writer *w, const char *key, const char *v);
/* Scalar arrays: n packed elements of type elem. */
void gguf_writer_set_arr(struct gguf_writer *w, const char *key, enum gguf_vtype elem,
                         const void *data, uint64_t n);
void gguf_writer_set_str_arr(struct gguf_writer *w, const char *key, const struct slice *strs,
                             uint64_t n);
/* Any value, including nested arrays (as the reader returns them). */
void gguf_writer_set_value(struct gguf_writer *w, const char *key, const struct gguf_value *v);
/* Removes key if set. */
void gguf_writer_remove(struct gguf_writer *w, const char *key);
/* Copies every key of src except those in skip (NULL-terminated, may be NULL). */
void gguf_writer_copy_kv(struct gguf_writer *w, const struct gguf_file *src,
                         const char *const *skip);
int gguf_writer_add_tensor(struct gguf_writer *w, const char *name, int type, int n_dims,
                           const int64_t *ne, const void *data, size_t nbytes);
int gguf_writer_add_tensor_ref(struct gguf_writer *w, const char *name, int type, int n_dims,
                               const int64_t *ne, const void *data, size_t nbytes);
/* A tensor whose bytes fn writes into dst (nbytes = the type's size for ne)
 * during gguf_writer_write, one tensor at a time, so a large model never
 * sits whole in memory. fn returns 0 or a negative code with err filled. */
typedef int (*gguf_tensor_fill_fn)(void *ctx, void *dst, size_t nbytes, char *err);
int gguf_writer_add_tensor_fn(struct gguf_writer *w, const char *name, int type, int n_dims,
                              const int64_t *ne, gguf_tensor_fill_fn fn, void *ctx);
/* The add_tensor calls return ERR_INVALID for an empty or duplicate name,
 * n_dims outside 1..4, ne < 1, a row length that is not a multiple of the
 * block, an unknown type, or nbytes different from the shape's size. */
/* Writes version 3: streams to a temporary file beside path, fsyncs it and
 * renames it over path (a reader never sees a partial file). The writer can
 * be written again or freed afterwards. */
int gguf_writer_write(struct gguf_writer *w, const char *path, char err[ERR_MSG_LEN]);

#endif
