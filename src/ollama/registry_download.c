/* registry_download.c — shared, ranged, resumable, verified blob downloads.
 * One download thread per digest (the in-flight table in struct registry);
 * every pull that needs the blob waits on it and reports its progress.
 * Layout and algorithm follow Ollama's server/download.go (reference §3.4):
 * blobs/sha256-<hex>-partial holds the bytes (pre-sized, written in place by
 * parallel Range requests), blobs/sha256-<hex>-partial-N one JSON sidecar per
 * part recording what is on disk, so the next attempt resumes. A finished
 * partial is sha256-checked here; renaming it into place is the pull's job
 * (registry_pull.c), done only once every layer is ready. */
#include "ollama/registry_internal.h"

#include "base/file.h"
#include "base/json.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/sha256.h"
#include "base/timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A part's sidecar is rewritten after this many new bytes (and at the end). */
#define CHECKPOINT_BYTES  (16LL << 20)
#define MAX_PARTS_ON_DISK 10000

struct reg_flight;

struct part {
	struct reg_flight *f;
	int n;
	int64_t offset, size; /* the byte range [offset, offset + size) */
	int64_t completed;    /* bytes of the range on disk, from its start */
	int64_t checkpointed; /* completed as of the last sidecar write */
	int tries;            /* failed attempts so far */
	int64_t not_before_ms;
	bool auth_tried;
	/* the transfer in progress */
	CURL *h;
	struct curl_slist *hdrs;
	long status;
	int64_t skip;        /* bytes to discard: the server ignored our Range */
	int64_t range_start; /* Content-Range start of a 206, -1 if none */
	bool checked, bad_status, overflow, reached_end, write_failed;
	int write_errno;
	char *www_auth;
	struct buf errbody;
};

struct reg_flight {
	struct registry *r;
	struct reg_flight *next;
	char digest[STORE_DIGEST_LEN + 1];
	int64_t total;
	struct reg_session sess; /* owned copy */
	char *url;
	_Atomic int64_t completed;
	int waiters, refs; /* guarded by r->lock */
	bool stopping, done;
	int rc;
	char err[ERR_MSG_LEN];
	/* the download thread's own state */
	int fd;
	char *partial;
	struct part *parts;
	int n_parts;
};

/* ---- sidecars ---- */

static char *sidecar_path(const char *partial, int n)
{
	size_t len = strlen(partial) + 16;
	char *p = xmalloc(len);
	snprintf(p, len, "%s-%d", partial, n);
	return p;
}

static int sidecar_write(struct reg_flight *f, struct part *p)
{
	char json[160];
	int len = snprintf(json, sizeof json,
	                   "{\"N\":%d,\"Offset\":%lld,\"Size\":%lld,\"Completed\":%lld}", p->n,
	                   (long long)p->offset, (long long)p->size, (long long)p->completed);
	char *path = sidecar_path(f->partial, p->n);
	int rc = file_write_atomic(path, json, (size_t)len, 0644);
	free(path);
	if (rc == 0)
		p->checkpointed = p->completed;
	return rc;
}

static void remove_sidecars(const char *partial)
{
	for (int n = 0; n < MAX_PARTS_ON_DISK; n++) {
		char *path = sidecar_path(partial, n);
		int rc = unlink(path);
		free(path);
		if (rc < 0)
			break;
	}
}

static void remove_partial_files(const char *partial)
{
	remove_sidecars(partial);
	unlink(partial);
}

void reg__partial_cleanup(struct store *st, const char *digest)
{
	char *partial = store_blob_partial_path(st, digest);
	if (partial)
		remove_sidecars(partial);
	free(partial);
}

/* Reads the sidecars of an earlier attempt; false when they are missing or
 * do not describe exactly [0, total) in order. */
static bool sidecars_load(struct reg_flight *f)
{
	struct stat st;
	if (stat(f->partial, &st) != 0 || st.st_size != f->total)
		return false;
	int64_t end = 0;
	for (int n = 0; end < f->total && n < MAX_PARTS_ON_DISK; n++) {
		char *path = sidecar_path(f->partial, n);
		struct buf b = BUF_INIT;
		int rc = file_read_all(path, &b, 4096);
		free(path);
		cJSON *j = rc == 0 ? json_parse(b.data ? b.data : "", b.len, NULL) : NULL;
		buf_release(&b);
		struct part p = {.f = f,
		                 .n = n,
		                 .offset = json_i64(j, "Offset", -1),
		                 .size = json_i64(j, "Size", -1),
		                 .completed = json_i64(j, "Completed", -1)};
		bool ok = j && json_i64(j, "N", -1) == n && p.offset == end && p.size > 0 &&
		          p.size <= f->total - end && p.completed >= 0 && p.completed <= p.size;
		cJSON_Delete(j);
		if (!ok)
			return false;
		p.checkpointed = p.completed;
		f->parts = xrealloc(f->parts, (size_t)(n + 1) * sizeof *f->parts);
		f->parts[n] = p;
		f->n_parts = n + 1;
		end += p.size;
	}
	return end == f->total;
}

static void plan_parts(struct reg_flight *f)
{
	const struct registry_config *c = &f->r->cfg;
	int64_t size = f->total / c->max_parts;
	if (size < c->part_min)
		size = c->part_min;
	if (size > c->part_max)
		size = c->part_max;
	f->n_parts = 0;
	for (int64_t off = 0; off < f->total; off += size) {
		f->parts = xrealloc(f->parts, (size_t)(f->n_parts + 1) * sizeof *f->parts);
		int64_t len = f->total - off < size ? f->total - off : size;
		f->parts[f->n_parts] =
		    (struct part){.f = f, .n = f->n_parts, .offset = off, .size = len};
		f->n_parts++;
	}
}

/* Opens the partial file, resuming an earlier attempt when its sidecars are
 * consistent, else starting over. */
static int prepare(struct reg_flight *f)
{
	if (sidecars_load(f)) {
		int64_t have = 0;
		for (int i = 0; i < f->n_parts; i++)
			have += f->parts[i].completed;
		atomic_store(&f->completed, have);
		log_info("registry: resuming %s at %lld of %lld bytes", f->digest, (long long)have,
		         (long long)f->total);
		f->fd = open(f->partial, O_RDWR | O_CLOEXEC);
	} else {
		free(f->parts);
		f->parts = NULL;
		remove_partial_files(f->partial);
		plan_parts(f);
		atomic_store(&f->completed, 0);
		f->fd = open(f->partial, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (f->fd >= 0 && ftruncate(f->fd, f->total) < 0) {
			int e = -errno;
			close(f->fd);
			f->fd = -1;
			return err_set(f->err, e, "allocate %s: %s", f->partial, err_str(e));
		}
	}
	if (f->fd < 0) {
		int e = -errno;
		return err_set(f->err, e, "open %s: %s", f->partial, err_str(e));
	}
	return 0;
}

/* ---- one part's transfer ---- */

static size_t part_header(char *p, size_t size, size_t n, void *ud)
{
	struct part *pt = ud;
	size_t len = size * n;
	if (len > 5 && !strncmp(p, "HTTP/", 5)) {
		pt->range_start = -1;
		free(pt->www_auth);
		pt->www_auth = NULL;
	} else if (len > 14 && !strncasecmp(p, "Content-Range:", 14)) {
		long long a;
		if (sscanf(p + 14, " bytes %lld-", &a) == 1)
			pt->range_start = a;
	} else if (len > 17 && !strncasecmp(p, "WWW-Authenticate:", 17)) {
		free(pt->www_auth);
		const char *v = p + 17;
		while (*v == ' ')
			v++;
		size_t vl = len - (size_t)(v - p);
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
			vl--;
		pt->www_auth = xstrndup(v, vl);
	}
	return len;
}

/* First bytes of a response: decide what the body is. */
static void part_check(struct part *pt)
{
	pt->checked = true;
	curl_easy_getinfo(pt->h, CURLINFO_RESPONSE_CODE, &pt->status);
	int64_t want = pt->offset + pt->completed;
	if (pt->status == 206 && pt->range_start == want)
		pt->skip = 0;
	else if (pt->status == 206) /* a range we did not ask for */
		pt->bad_status = true;
	else if (pt->status == 200) /* the whole blob: keep only our range */
		pt->skip = want;
	else
		pt->bad_status = true;
}

static size_t part_write(char *data, size_t size, size_t n, void *ud)
{
	struct part *pt = ud;
	size_t len = size * n, used = 0;
	if (!pt->checked)
		part_check(pt);
	if (pt->bad_status) {
		if (pt->errbody.len < 4096)
			buf_append(&pt->errbody, data, len);
		return len;
	}
	if (pt->skip > 0) {
		used = (size_t)pt->skip < len ? (size_t)pt->skip : len;
		pt->skip -= (int64_t)used;
	}
	int64_t room = pt->size - pt->completed;
	size_t k = len - used;
	bool over = (int64_t)k > room;
	if (over)
		k = (size_t)room;
	while (k > 0) {
		ssize_t w = pwrite(pt->f->fd, data + used, k, pt->offset + pt->completed);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			pt->write_failed = true;
			pt->write_errno = w < 0 ? errno : EIO;
			return 0;
		}
		used += (size_t)w;
		k -= (size_t)w;
		pt->completed += w;
		atomic_fetch_add(&pt->f->completed, (int64_t)w);
	}
	if (over) { /* a 200 body goes on past our range; a 206 must not */
		pt->reached_end = pt->status == 200;
		pt->overflow = pt->status == 206;
		return 0;
	}
	return len;
}

static int part_start(CURLM *m, struct part *pt)
{
	struct reg_flight *f = pt->f;
	pt->h = curl_easy_init();
	if (!pt->h)
		return err_set(f->err, ERR_NOMEM, "curl_easy_init failed");
	pt->status = 0;
	pt->skip = 0;
	pt->range_start = -1;
	pt->checked = pt->bad_status = pt->overflow = pt->reached_end = pt->write_failed = false;
	buf_reset(&pt->errbody);
	char range[96];
	snprintf(range, sizeof range, "Range: bytes=%lld-%lld",
	         (long long)(pt->offset + pt->completed), (long long)(pt->offset + pt->size - 1));
	pt->hdrs = reg__prepare(pt->h, &f->sess, curl_slist_append(NULL, range));
	curl_easy_setopt(pt->h, CURLOPT_URL, f->url);
	curl_easy_setopt(pt->h, CURLOPT_HTTPHEADER, pt->hdrs);
	curl_easy_setopt(pt->h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(pt->h, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(pt->h, CURLOPT_HEADERFUNCTION, part_header);
	curl_easy_setopt(pt->h, CURLOPT_HEADERDATA, pt);
	curl_easy_setopt(pt->h, CURLOPT_WRITEFUNCTION, part_write);
	curl_easy_setopt(pt->h, CURLOPT_WRITEDATA, pt);
	curl_easy_setopt(pt->h, CURLOPT_PRIVATE, pt);
	curl_multi_add_handle(m, pt->h);
	return 0;
}

static void part_stop(CURLM *m, struct part *pt)
{
	if (!pt->h)
		return;
	curl_multi_remove_handle(m, pt->h);
	curl_easy_cleanup(pt->h);
	curl_slist_free_all(pt->hdrs);
	pt->h = NULL;
	pt->hdrs = NULL;
}

static bool retryable_status(long s)
{
	return s >= 500 || s == 408 || s == 429;
}

/* A failed attempt: back off, or give up after max_retries. */
static int part_retry(struct part *pt, const char *cause)
{
	struct reg_flight *f = pt->f;
	pt->tries++;
	if (pt->tries > f->r->cfg.max_retries)
		return err_set(f->err, ERR_TIMEOUT, "max retries exceeded: %s", cause);
	int64_t delay = (int64_t)f->r->cfg.retry_base_ms
	                << (pt->tries - 1 < 20 ? pt->tries - 1 : 20);
	pt->not_before_ms = time_mono_ns() / 1000000 + delay;
	log_warn("registry: %s part %d: %s; retry %d in %lld ms", f->digest, pt->n, cause,
	         pt->tries, (long long)delay);
	return 0;
}

static int part_bad_status(struct part *pt)
{
	struct reg_flight *f = pt->f;
	if (pt->status == 401 && !pt->auth_tried) {
		pt->auth_tried = true;
		return reg__authorize(&f->sess, pt->www_auth, f->err);
	}
	if (pt->status == 401)
		return err_set(f->err, ERR_AUTH, "unauthorized: access denied");
	struct reg_resp r = {.status = pt->status, .body = pt->errbody};
	char cause[ERR_MSG_LEN];
	if (pt->status == 206) /* a Content-Range we did not ask for */
		return err_set(f->err, ERR_PROTOCOL, "registry answered %s with the wrong range",
		               f->digest);
	reg__status_error(&r, cause);
	if (retryable_status(pt->status))
		return part_retry(pt, cause);
	return err_set(f->err, ERR_PROTOCOL, "%s", cause);
}

/* A transfer ended: judge it. Negative return = give up the download. */
static int part_done(struct part *pt, CURLcode cc)
{
	struct reg_flight *f = pt->f;
	if (pt->write_failed)
		return err_set(f->err, -pt->write_errno, "write %s: %s", f->partial,
		               strerror(pt->write_errno));
	if (pt->overflow)
		return err_set(f->err, ERR_PROTOCOL, "registry sent more bytes than asked for %s",
		               f->digest);
	if (cc == CURLE_OK && !pt->checked) { /* an empty body */
		curl_easy_getinfo(pt->h, CURLINFO_RESPONSE_CODE, &pt->status);
		pt->bad_status = pt->status != 200 && pt->status != 206;
	}
	if (cc == CURLE_OK && pt->bad_status)
		return part_bad_status(pt);
	if (cc == CURLE_OK || (cc == CURLE_WRITE_ERROR && pt->reached_end)) {
		if (pt->completed == pt->size)
			return 0;
		return part_retry(pt, "unexpected EOF");
	}
	return part_retry(pt, curl_easy_strerror(cc));
}

/* ---- the download thread ---- */

/* True once the download should end: nobody waits, or the registry closes. */
static bool should_stop(struct reg_flight *f)
{
	pthread_mutex_lock(&f->r->lock);
	if (f->waiters == 0 || f->r->closing)
		f->stopping = true;
	bool stop = f->stopping;
	pthread_mutex_unlock(&f->r->lock);
	return stop;
}

static void checkpoint(struct reg_flight *f, bool all)
{
	bool need = all;
	for (int i = 0; i < f->n_parts && !need; i++)
		need = f->parts[i].completed - f->parts[i].checkpointed >= CHECKPOINT_BYTES;
	if (!need)
		return;
	fdatasync(f->fd); /* a sidecar never claims bytes that are not on disk */
	for (int i = 0; i < f->n_parts; i++)
		if (all || f->parts[i].completed - f->parts[i].checkpointed >= CHECKPOINT_BYTES)
			sidecar_write(f, &f->parts[i]);
}

/* Starts the parts that are due. Returns how many are active, or < 0. */
static int start_due(struct reg_flight *f, CURLM *m, bool *all_complete)
{
	int64_t now = time_mono_ns() / 1000000;
	int active = 0;
	*all_complete = true;
	for (int i = 0; i < f->n_parts; i++) {
		struct part *pt = &f->parts[i];
		if (pt->completed == pt->size && !pt->h)
			continue;
		*all_complete = false;
		if (!pt->h && now >= pt->not_before_ms && active < f->r->cfg.max_parts) {
			int rc = part_start(m, pt);
			if (rc < 0)
				return rc;
		}
		active += pt->h != NULL;
	}
	return active;
}

static int download(struct reg_flight *f)
{
	CURLM *m = curl_multi_init();
	int rc = 0;
	for (;;) {
		bool complete;
		int active = start_due(f, m, &complete);
		if (active < 0 || complete) {
			rc = active < 0 ? active : 0;
			break;
		}
		int running;
		curl_multi_perform(m, &running);
		CURLMsg *msg;
		int left;
		while (rc == 0 && (msg = curl_multi_info_read(m, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct part *pt;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&pt);
			CURLcode cc = msg->data.result;
			rc = part_done(pt, cc);
			part_stop(m, pt);
		}
		if (rc < 0)
			break;
		checkpoint(f, false);
		if (should_stop(f)) {
			rc = err_set(f->err, ERR_CANCELLED, "context canceled");
			break;
		}
		curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	for (int i = 0; i < f->n_parts; i++) {
		part_stop(m, &f->parts[i]);
		free(f->parts[i].www_auth);
		buf_release(&f->parts[i].errbody);
	}
	curl_multi_cleanup(m);
	return rc;
}

static int verify(struct reg_flight *f)
{
	struct sha256_ctx c;
	sha256_init(&c);
	char *chunk = xmalloc(1 << 20);
	int64_t off = 0;
	int rc = 0;
	while (off < f->total) {
		ssize_t k = pread(f->fd, chunk, 1 << 20, off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			rc = k < 0 ? -errno : -EIO;
			err_set(f->err, rc, "read %s: %s", f->partial, err_str(rc));
			break;
		}
		sha256_update(&c, chunk, (size_t)k);
		off += k;
		if ((off & ((64 << 20) - 1)) == 0 && should_stop(f)) {
			rc = err_set(f->err, ERR_CANCELLED, "context canceled");
			break;
		}
	}
	free(chunk);
	char hex[SHA256_HEX_LEN + 1];
	if (rc < 0) {
		sha256_release(&c);
		return rc;
	}
	sha256_final_hex(&c, hex);
	if (strcasecmp(hex, f->digest + 7) == 0)
		return 0;
	remove_partial_files(f->partial); /* the bytes are wrong: start over next time */
	return err_set(f->err, ERR_DIGEST,
	               "digest mismatch, file must be downloaded again: want %s, got sha256:%s",
	               f->digest, hex);
}

static int run(struct reg_flight *f)
{
	if (store_blob_exists(f->r->store, f->digest))
		return 0;
	f->partial = store_blob_partial_path(f->r->store, f->digest);
	int rc = prepare(f);
	if (rc < 0)
		return rc;
	rc = download(f);
	checkpoint(f, true);
	if (rc == 0)
		rc = verify(f);
	close(f->fd);
	f->fd = -1;
	return rc;
}

static void flight_unref(struct reg_flight *f)
{
	if (--f->refs > 0)
		return;
	reg__session_release(&f->sess);
	free(f->url);
	free(f->partial);
	free(f->parts);
	free(f);
}

static void *flight_main(void *arg)
{
	struct reg_flight *f = arg;
	int rc = run(f);
	struct registry *r = f->r;
	pthread_mutex_lock(&r->lock);
	f->rc = rc;
	f->done = true;
	for (struct reg_flight **pp = &r->flights; *pp; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	}
	r->running--;
	flight_unref(f);
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* ---- waiting for a download ---- */

static struct reg_flight *flight_find(struct registry *r, const char *digest)
{
	for (struct reg_flight *f = r->flights; f; f = f->next)
		if (!strcasecmp(f->digest, digest))
			return f;
	return NULL;
}

/* A new flight with its thread running. Caller holds r->lock. */
static int flight_start(struct reg_session *s, const struct store_layer *layer,
                        struct reg_flight **out, char err[ERR_MSG_LEN])
{
	struct registry *r = s->r;
	struct reg_flight *f = xcalloc(1, sizeof *f);
	f->r = r;
	memcpy(f->digest, layer->digest, sizeof f->digest);
	f->total = layer->size;
	f->fd = -1;
	f->refs = 1; /* the thread's */
	reg__session_copy(&f->sess, s);
	size_t n = strlen(s->base) + strlen(s->repo) + 96;
	f->url = xmalloc(n);
	snprintf(f->url, n, "%s/v2/%s/blobs/%s", s->base, s->repo, layer->digest);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_t t;
	int e = pthread_create(&t, &attr, flight_main, f);
	pthread_attr_destroy(&attr);
	if (e != 0) {
		flight_unref(f);
		return err_set(err, -e, "start download thread: %s", strerror(e));
	}
	f->next = r->flights;
	r->flights = f;
	r->running++;
	*out = f;
	return 0;
}

static void deadline_after(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Waits for f, emitting its progress every progress_ms. Caller holds the lock
 * and one waiter reference, which this gives back. */
static int flight_wait(struct reg_flight *f, const struct registry_request *req,
                       char err[ERR_MSG_LEN])
{
	struct registry *r = f->r;
	char status[32];
	reg__layer_status(status, "pulling", f->digest);
	struct timespec next;
	deadline_after(&next, r->cfg.progress_ms);
	int rc = 0;
	while (!f->done) {
		if (reg__cancelled(req->cancel)) {
			rc = err_set(err, ERR_CANCELLED, "context canceled");
			break;
		}
		if (pthread_cond_timedwait(&r->cond, &r->lock, &next) != ETIMEDOUT || f->done)
			continue;
		int64_t done = atomic_load(&f->completed);
		pthread_mutex_unlock(&r->lock);
		reg__emit(req, status, f->digest, f->total, done);
		pthread_mutex_lock(&r->lock);
		deadline_after(&next, r->cfg.progress_ms);
	}
	if (rc == 0 && (rc = f->rc) < 0)
		memcpy(err, f->err, ERR_MSG_LEN);
	int64_t total = f->total;
	char digest[STORE_DIGEST_LEN + 1];
	memcpy(digest, f->digest, sizeof digest);
	f->waiters--;
	flight_unref(f);
	pthread_mutex_unlock(&r->lock);
	if (rc == 0)
		reg__emit(req, status, digest, total, total);
	return rc;
}

int reg__blob_fetch(struct reg_session *s, const struct store_layer *layer,
                    const struct registry_request *req, char err[ERR_MSG_LEN])
{
	struct registry *r = s->r;
	pthread_mutex_lock(&r->lock);
	struct reg_flight *f;
	/* a download that is shutting down must finish before a new one starts */
	while ((f = flight_find(r, layer->digest)) != NULL && f->stopping)
		pthread_cond_wait(&r->cond, &r->lock);
	if (!f) {
		int rc = flight_start(s, layer, &f, err);
		if (rc < 0) {
			pthread_mutex_unlock(&r->lock);
			return rc;
		}
	}
	f->waiters++;
	f->refs++;
	return flight_wait(f, req, err);
}

void reg__flights_shutdown(struct registry *r)
{
	pthread_mutex_lock(&r->lock);
	r->closing = true;
	while (r->running > 0)
		pthread_cond_wait(&r->cond, &r->lock);
	pthread_mutex_unlock(&r->lock);
}
