/* api_create.c — POST /api/create (reference ollama-api.md §1.8): a model
 * from a GGUF blob ("files": {"x.gguf": "sha256:..."}, uploaded first with
 * POST /api/blobs), from a blob digest or a GGUF path on this machine
 * ("from"), or from another model of the store ("from": "name", its layers
 * reused), with template, system, parameters, license and messages layers,
 * the legacy "modelfile" text, and "quantize" (a new GGUF blob). Progress
 * streams as Ollama's {"status":...} lines ending in "success"; the config
 * blob carries Ollama's ConfigV2 fields (family, parameter size, file type)
 * read from the GGUF. The work runs on a task thread. */
#include "ollama/server_internal.h"

#include "base/file.h"
#include "base/gojson.h"
#include "base/json.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/sha256.h"
#include "engine/quantize_model.h"
#include "gguf/gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct create_call {
	struct api_call call;
	struct model_name name;
	bool stream;
	struct modelfile mf; /* from, template, system, params, licenses, messages */
	bool has_template, has_system, has_license;
	char blob[STORE_DIGEST_LEN + 1]; /* the model layer when given by digest */
	char *path;                      /* ... or by a file path */
	const struct quantize_ftype *quantize;
	bool insecure;      /* a "from" model pulled over plain http (ours; Ollama has none) */
	atomic_bool cancel; /* the client went away: stops a pull of "from" */
	struct buf line, last;
	/* the task's */
	struct store_manifest m;
	char err[ERR_MSG_LEN];
};

static void create_destroy(struct api_call *c)
{
	struct create_call *k = (struct create_call *)c;
	modelfile_release(&k->mf);
	free(k->path);
	buf_release(&k->line);
	buf_release(&k->last);
	store_manifest_release(&k->m);
	free(k);
}

static void status(struct create_call *k, const char *s)
{
	struct registry_progress p = {.status = s};
	api_progress(&k->call, k->stream, &k->line, &k->last, &p, &k->cancel);
}

/* Pull progress of a "from" model, as lines of the create stream. */
static void pull_progress(const struct registry_progress *p, void *ud)
{
	struct create_call *k = ud;
	api_progress(&k->call, k->stream, &k->line, &k->last, p, &k->cancel);
}

static void create_cancel(struct api_call *c)
{
	atomic_store(&((struct create_call *)c)->cancel, true);
}

/* A "from" model that is not in the store is pulled first, as Ollama does
 * ("pulling model", then the pull's own lines); then loaded. */
static int load_or_pull(struct create_call *k, const struct model_name *n, struct store_model *base)
{
	struct store *st = k->call.srv->store;
	struct model_name r;
	store_resolve(st, n, &r);
	int rc = store_model_load(st, &r, base, k->err);
	if (rc != ERR_NOT_FOUND)
		return rc;
	status(k, "pulling model");
	struct registry_request rq = {.insecure = k->insecure,
	                              .cancel = &k->cancel,
	                              .progress = pull_progress,
	                              .progress_ud = k};
	k->err[0] = '\0';
	rc = registry_pull(k->call.srv->registry, n, &rq, k->err);
	if (rc == ERR_NOT_FOUND)
		return err_set(k->err, rc, "model '%s' not found", k->mf.from);
	if (rc)
		return rc;
	store_resolve(st, n, &r);
	return store_model_load(st, &r, base, k->err);
}

/* Adds a layer with these bytes (written unless the blob exists). */
static int text_layer(struct create_call *k, const char *mt, const char *p, size_t n)
{
	struct store *st = k->call.srv->store;
	char hex[SHA256_HEX_LEN + 1], digest[STORE_DIGEST_LEN + 1], msg[128];
	sha256_hex(p, n, hex);
	snprintf(digest, sizeof digest, "sha256:%s", hex);
	bool have = store_blob_exists(st, digest);
	if (!have) {
		int rc = store_blob_put(st, p, n, digest, NULL, k->err);
		if (rc)
			return rc;
	}
	store_pin(st, digest);
	snprintf(msg, sizeof msg, "%s layer %s", have ? "using existing" : "creating new", digest);
	status(k, msg);
	store_manifest_add_layer(&k->m, mt, digest, (int64_t)n);
	return 0;
}

/* The GGUF: given by digest, copied from a path, or another model's. */
static int model_layer(struct create_call *k, struct store_model *base, char digest[72])
{
	struct store *st = k->call.srv->store;
	char msg[128];
	if (k->blob[0]) {
		memcpy(digest, k->blob, STORE_DIGEST_LEN + 1);
		return 0;
	}
	if (k->path) {
		int64_t size;
		int rc = store_blob_put_file(st, k->path, NULL, digest, &size, k->err);
		if (!rc) {
			snprintf(msg, sizeof msg, "creating new layer %s", digest);
			status(k, msg);
		}
		return rc;
	}
	struct model_name n;
	if (names_parse(k->mf.from, &n, NULL) < 0)
		return err_set(k->err, ERR_INVALID, "invalid model name");
	int rc = load_or_pull(k, &n, base);
	if (rc)
		return rc;
	const struct store_layer *ml = store_manifest_find(&base->entry.manifest, STORE_MT_MODEL);
	if (!ml)
		return err_set(k->err, ERR_INVALID, "model '%s' has no GGUF layer", k->mf.from);
	memcpy(digest, ml->digest, STORE_DIGEST_LEN + 1);
	return 0;
}

static int quantize(struct create_call *k, const struct gguf_file *f, char digest[72])
{
	struct store *st = k->call.srv->store;
	char msg[160], hex[SHA256_HEX_LEN + 1], tmp[64];
	snprintf(msg, sizeof msg, "quantizing %s model to %s", gguf_quantization(f),
	         k->quantize->name);
	status(k, msg);
	snprintf(tmp, sizeof tmp, ".quantize-%d-%p", (int)getpid(), (void *)k);
	char *out = file_path_join(store_blobs_dir(st), tmp);
	struct quantize_options o = {.ft = k->quantize, .pure = k->quantize->pure};
	struct quantize_result res;
	int rc = quantize_model_file(f->path, out, &o, &res, k->err);
	if (!rc)
		rc = sha256_file_hex(out, hex);
	if (!rc) {
		snprintf(digest, STORE_DIGEST_LEN + 1, "sha256:%s", hex);
		rc = store_blob_adopt(st, digest, out, k->err);
	}
	if (rc) {
		unlink(out);
		if (!k->err[0])
			err_set(k->err, rc, "quantizing: %s", err_str(rc));
	} else {
		snprintf(msg, sizeof msg, "creating new layer %s", digest);
		status(k, msg);
	}
	free(out);
	return rc;
}

/* Go's json.Encoder of a map: keys sorted, compact, then a newline. */
static void params_text(const cJSON *p, struct buf *out)
{
	const cJSON *keys[128];
	int n = 0;
	const cJSON *v;
	cJSON_ArrayForEach(v, p)
	{
		if (n < 128)
			keys[n++] = v;
	}
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && strcmp(keys[j]->string, keys[j - 1]->string) < 0; j--) {
			const cJSON *t = keys[j];
			keys[j] = keys[j - 1];
			keys[j - 1] = t;
		}
	buf_putc(out, '{');
	for (int i = 0; i < n; i++) {
		buf_puts(out, i ? "," : "");
		jstr(out, keys[i]->string);
		buf_putc(out, ':');
		if (cJSON_IsNumber(keys[i]))
			gojson_append_float(out, keys[i]->valuedouble);
		else if (cJSON_IsString(keys[i]))
			jstr(out, keys[i]->valuestring);
		else if (cJSON_IsArray(keys[i])) {
			buf_putc(out, '[');
			const cJSON *e;
			int j = 0;
			cJSON_ArrayForEach(e, keys[i])
			{
				buf_puts(out, j++ ? "," : "");
				jstr(out, cJSON_IsString(e) ? e->valuestring : "");
			}
			buf_putc(out, ']');
		} else
			buf_puts(out, cJSON_IsTrue(keys[i]) ? "true" : "false");
	}
	buf_puts(out, "}\n");
}

/* The text layers: the request's, else the base model's. */
static int text_layers(struct create_call *k, const struct store_model *base)
{
	const char *tmpl = k->has_template ? k->mf.template_text : base->template_text;
	const char *sys = k->has_system ? k->mf.system : base->system_text;
	int rc = 0;
	if (tmpl && *tmpl)
		rc = text_layer(k, STORE_MT_TEMPLATE, tmpl, strlen(tmpl));
	if (!rc && sys && *sys)
		rc = text_layer(k, STORE_MT_SYSTEM, sys, strlen(sys));
	cJSON *params = base->params_json ? cJSON_Parse(base->params_json) : NULL;
	if (!params)
		params = cJSON_CreateObject();
	const cJSON *v;
	cJSON_ArrayForEach(v, k->mf.params)
	{
		cJSON_DeleteItemFromObjectCaseSensitive(params, v->string);
		cJSON_AddItemToObject(params, v->string, cJSON_Duplicate(v, true));
	}
	if (!rc && cJSON_GetArraySize(params) > 0) {
		struct buf b = BUF_INIT;
		params_text(params, &b);
		rc = text_layer(k, STORE_MT_PARAMS, b.data, b.len);
		buf_release(&b);
	}
	cJSON_Delete(params);
	int nl = k->has_license ? k->mf.n_licenses : (int)base->n_licenses;
	for (int i = 0; !rc && i < nl; i++) {
		const char *l = k->has_license ? k->mf.licenses[i] : base->licenses[i];
		rc = text_layer(k, STORE_MT_LICENSE, l, strlen(l));
	}
	char *msgs = k->mf.messages ? cJSON_PrintUnformatted(k->mf.messages) : NULL;
	const char *mt = msgs ? msgs : base->messages_json;
	if (!rc && mt)
		rc = text_layer(k, STORE_MT_MESSAGES, mt, strlen(mt));
	free(msgs);
	return rc;
}

/* Ollama's ConfigV2 from the GGUF and the layers. */
static int config_layer(struct create_call *k, const struct gguf_file *f)
{
	struct buf b = BUF_INIT;
	char count[16];
	struct slice arch = gguf_arch(f);
	char *a = arch.p ? xstrndup(arch.p, arch.n) : xstrdup("");
	gguf_format_count(gguf_param_count(f), count);
	buf_puts(&b, "{\"model_format\":\"gguf\",\"model_family\":");
	jstr(&b, a);
	buf_puts(&b, ",\"model_families\":[");
	jstr(&b, a);
	buf_puts(&b, "],\"model_type\":");
	jstr(&b, count);
	buf_puts(&b, ",\"file_type\":");
	jstr(&b, gguf_quantization(f));
	buf_puts(&b, ",\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
	             "\"diff_ids\":[");
	for (size_t i = 0; i < k->m.n_layers; i++)
		buf_printf(&b, "%s\"%s\"", i ? "," : "", k->m.layers[i].digest);
	buf_puts(&b, "]}}");
	free(a);
	char hex[SHA256_HEX_LEN + 1], digest[STORE_DIGEST_LEN + 1];
	sha256_hex(b.data, b.len, hex);
	snprintf(digest, sizeof digest, "sha256:%s", hex);
	int rc = store_blob_put(k->call.srv->store, b.data, b.len, digest, NULL, k->err);
	if (!rc) {
		store_pin(k->call.srv->store, digest);
		store_manifest_set_config(&k->m, STORE_MT_CONFIG, digest, (int64_t)b.len);
	}
	buf_release(&b);
	return rc;
}

/* Writes the manifest; the layers the name used before and no longer does
 * are removed when nothing else references them. */
static int write_manifest(struct create_call *k)
{
	struct store *st = k->call.srv->store;
	struct store_manifest prev;
	status(k, "writing manifest");
	int rc = store_manifest_write(st, &k->name, &k->m, &prev, k->err);
	if (rc)
		return rc;
	const char **gone = xcalloc(prev.n_layers + 2, sizeof *gone);
	size_t n = 0;
	for (size_t i = 0; i <= prev.n_layers; i++) {
		const char *d = i < prev.n_layers ? prev.layers[i].digest : prev.config.digest;
		bool used = !d[0] || !strcmp(d, k->m.config.digest);
		for (size_t j = 0; !used && j < k->m.n_layers; j++)
			used = !strcmp(d, k->m.layers[j].digest);
		if (!used)
			gone[n++] = d;
	}
	if (n)
		store_remove_unused(st, gone, n);
	free(gone);
	store_manifest_release(&prev);
	return 0;
}

static void unpin_all(struct create_call *k)
{
	struct store *st = k->call.srv->store;
	for (size_t i = 0; i < k->m.n_layers; i++)
		store_unpin(st, k->m.layers[i].digest);
	if (k->m.config.digest[0])
		store_unpin(st, k->m.config.digest);
}

static int build(struct create_call *k, struct store_model *base)
{
	struct store *st = k->call.srv->store;
	char digest[72] = "", msg[128];
	int rc = model_layer(k, base, digest);
	if (rc)
		return rc;
	status(k, "parsing GGUF");
	char *path = store_blob_path(st, digest);
	struct gguf_file *f = gguf_open(path, k->err);
	free(path);
	if (!f)
		return ERR_INVALID;
	if (k->quantize) {
		rc = quantize(k, f, digest);
		gguf_close(f);
		path = store_blob_path(st, digest);
		f = rc ? NULL : gguf_open(path, k->err);
		free(path);
		if (!f)
			return rc ? rc : ERR_INVALID;
	} else if (k->blob[0] || base->model_path) {
		snprintf(msg, sizeof msg, "using existing layer %s", digest);
		status(k, msg);
	}
	store_pin(st, digest);
	store_manifest_add_layer(&k->m, STORE_MT_MODEL, digest, (int64_t)f->size);
	rc = text_layers(k, base);
	if (!rc)
		rc = config_layer(k, f);
	gguf_close(f);
	if (!rc)
		rc = write_manifest(k);
	return rc;
}

static void create_task(struct api_call *c)
{
	struct create_call *k = (struct create_call *)c;
	struct store_model base;
	memset(&base, 0, sizeof base);
	store_manifest_init(&k->m);
	int rc = build(k, &base);
	unpin_all(k);
	store_model_release(&base);
	if (rc) {
		log_warn("serve: create: %s", k->err);
		api_call_error(c,
		               rc == ERR_NOT_FOUND ? 404
		               : rc == ERR_INVALID ? 400
		                                   : 500,
		               k->err[0] ? k->err : err_str(rc));
	} else {
		status(k, "success");
		if (!k->stream)
			api_call_set(c, 200, CT_JSON, k->last.data, k->last.len);
	}
	api_call_complete(c);
}

/* ---- the request ---- */

/* "files": the first entry is the model (Ollama takes .gguf files). */
static bool files_field(struct create_call *k, const cJSON *files)
{
	const cJSON *f, *pick = NULL;
	cJSON_ArrayForEach(f, files)
	{
		if (!pick ||
		    (str_has_suffix(f->string, ".gguf") && !str_has_suffix(pick->string, ".gguf")))
			pick = f;
	}
	if (!pick)
		return true;
	char msg[160];
	if (!cJSON_IsString(pick) || store_digest_normalize(pick->valuestring, k->blob) < 0) {
		api_reply_error(&k->call, 400, "invalid digest format");
		return false;
	}
	if (!store_blob_exists(k->call.srv->store, k->blob)) {
		snprintf(msg, sizeof msg, "blob \"%s\" not found", k->blob);
		api_reply_error(&k->call, 400, msg);
		return false;
	}
	return true;
}

static bool string_list(const cJSON *v, struct modelfile *mf)
{
	if (cJSON_IsString(v)) {
		mf->licenses = xcalloc(1, sizeof(char *));
		mf->licenses[mf->n_licenses++] = xstrdup(v->valuestring);
		return true;
	}
	if (!cJSON_IsArray(v))
		return false;
	mf->licenses = xcalloc((size_t)cJSON_GetArraySize(v) + 1, sizeof(char *));
	const cJSON *e;
	cJSON_ArrayForEach(e, v)
	{
		if (cJSON_IsString(e))
			mf->licenses[mf->n_licenses++] = xstrdup(e->valuestring);
	}
	return true;
}

/* The modern fields, over what a legacy modelfile said. */
static bool json_fields(struct create_call *k, const cJSON *body)
{
	const cJSON *v;
	char err[ERR_MSG_LEN];
	if ((v = cJSON_GetObjectItemCaseSensitive(body, "from")) && cJSON_IsString(v)) {
		free(k->mf.from);
		k->mf.from = xstrdup(v->valuestring);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(body, "template")) && cJSON_IsString(v)) {
		free(k->mf.template_text);
		k->mf.template_text = xstrdup(v->valuestring);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(body, "system")) && cJSON_IsString(v)) {
		free(k->mf.system);
		k->mf.system = xstrdup(v->valuestring);
	}
	v = cJSON_GetObjectItemCaseSensitive(body, "license");
	if (v && !cJSON_IsNull(v)) {
		for (int i = 0; i < k->mf.n_licenses; i++)
			free(k->mf.licenses[i]);
		free(k->mf.licenses);
		k->mf.licenses = NULL;
		k->mf.n_licenses = 0;
		string_list(v, &k->mf);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(body, "messages")) && cJSON_IsArray(v)) {
		cJSON_Delete(k->mf.messages);
		k->mf.messages = cJSON_Duplicate(v, true);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(body, "parameters")) && cJSON_IsObject(v)) {
		struct gen_options scratch;
		gen_options_init(&scratch);
		int rc = gen_options_apply(&scratch, v, err);
		gen_options_release(&scratch);
		if (rc) {
			api_reply_error(&k->call, 400, err);
			return false;
		}
		if (!k->mf.params)
			k->mf.params = cJSON_CreateObject();
		const cJSON *p;
		cJSON_ArrayForEach(p, v)
		{
			cJSON_DeleteItemFromObjectCaseSensitive(k->mf.params, p->string);
			cJSON_AddItemToObject(k->mf.params, p->string, cJSON_Duplicate(p, true));
		}
	}
	return true;
}

/* Where the model layer comes from: a digest, a file, or a model name. */
static bool source(struct create_call *k, const cJSON *body)
{
	const cJSON *files = cJSON_GetObjectItemCaseSensitive(body, "files");
	if (cJSON_IsObject(files) && cJSON_GetArraySize(files) > 0)
		return files_field(k, files);
	const char *from = k->mf.from;
	if (!from || !*from) {
		api_reply_error(&k->call, 400, "neither 'from' or 'files' was specified");
		return false;
	}
	if (store_digest_valid(from)) {
		store_digest_normalize(from, k->blob);
		if (store_blob_exists(k->call.srv->store, k->blob))
			return true;
		char msg[160];
		snprintf(msg, sizeof msg, "blob \"%s\" not found", k->blob);
		api_reply_error(&k->call, 400, msg);
		return false;
	}
	if (from[0] == '/' || !strncmp(from, "./", 2) || str_has_suffix(from, ".gguf")) {
		if (!file_exists(from) || file_is_dir(from)) {
			char msg[ERR_MSG_LEN + 64];
			snprintf(msg, sizeof msg, "no such GGUF file: %.200s", from);
			api_reply_error(&k->call, 400, msg);
			return false;
		}
		k->path = xstrdup(from);
	}
	return true;
}

static bool parse_request(struct create_call *k, const cJSON *body)
{
	char err[ERR_MSG_LEN];
	const char *name = json_str(body, "model", "");
	if (!*name)
		name = json_str(body, "name", "");
	if (!api_bool(&k->call, body, "stream", &k->stream))
		return false;
	if (!*name || names_parse(name, &k->name, NULL) < 0) {
		api_reply_error(&k->call, 400, NAMES_ERR_INVALID);
		return false;
	}
	const char *text = json_str(body, "modelfile", "");
	if (*text && modelfile_parse(text, &k->mf, err)) {
		api_reply_error(&k->call, 400, err);
		return false;
	}
	k->has_template = k->mf.template_text || json_has(body, "template");
	k->has_system = k->mf.system || json_has(body, "system");
	k->has_license = k->mf.n_licenses || json_has(body, "license");
	if (!json_fields(k, body) || !source(k, body) ||
	    !api_bool(&k->call, body, "insecure", &k->insecure))
		return false;
	if (k->mf.has_adapter || cJSON_GetArraySize(cJSON_GetObjectItem(body, "adapters")) > 0) {
		api_reply_error(&k->call, 400, "adapters are not supported");
		return false;
	}
	const char *q = json_str(body, "quantize", json_str(body, "quantization", ""));
	if (*q && !(k->quantize = quantize_ftype_find(q))) {
		snprintf(err, sizeof err, "unsupported quantization type %.64s", q);
		api_reply_error(&k->call, 400, err);
		return false;
	}
	return true;
}

void api_create(const struct api_route *rt, struct http_req *req)
{
	struct create_call *k = api_call_alloc(rt, req, sizeof *k, create_destroy);
	k->stream = true;
	cJSON *body = api_body_json(&k->call);
	if (!body)
		return;
	bool ok = parse_request(k, body);
	cJSON_Delete(body);
	if (!ok)
		return;
	api_call_watch(&k->call, create_cancel);
	if (api_call_spawn(&k->call, create_task)) {
		k->call.on_cancel = NULL;
		api_reply_error(&k->call, 500, "cannot start a task thread");
	}
}
