/* registry_internal.h — shared by registry.c (requests, auth), registry_pull.c,
 * registry_download.c (shared, ranged, resumable blob downloads) and
 * registry_push.c. */
#ifndef GPURUN_OLLAMA_REGISTRY_INTERNAL_H
#define GPURUN_OLLAMA_REGISTRY_INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>

#include "ollama/registry.h"

struct reg_flight;

struct registry {
	struct store *store;
	struct registry_config cfg;
	pthread_mutex_t lock; /* the in-flight table and every flight's state */
	pthread_cond_t cond;  /* signalled on any flight progress or state change */
	struct reg_flight *flights;
	int running; /* download threads alive */
	bool closing;
};

/* What one pull or push knows about the registry it talks to. */
struct reg_session {
	struct registry *r;
	char base[NAMES_HOST_MAX + 16];    /* "https://host[:port]" */
	char repo[2 * NAMES_PART_MAX + 2]; /* "namespace/model" */
	char *token;                       /* bearer token once a challenge was answered */
	char *username, *password;         /* optional, copies */
	bool use_basic;                    /* the registry asked for Basic auth */
	const atomic_bool *cancel;
};

struct reg_req {
	const char *method; /* GET HEAD POST PUT */
	const char *url;
	const char *accept;       /* Accept header, or NULL */
	const char *content_type; /* for bodies, or NULL */
	const void *body;         /* in-memory body ... */
	size_t body_len;
	int body_fd; /* ... or a file body when >= 0 (size body_size) */
	int64_t body_size;
	size_t max_body; /* response bytes kept (more is an error) */
	bool follow;     /* follow redirects (GETs of manifests and tokens) */
	/* upload progress, called at most every progress_ms */
	void (*on_upload)(void *ud, int64_t sent);
	void *ud;
};

struct reg_resp {
	long status;
	struct buf body;
	char *location;
	char *www_auth;
	char *content_type;
};

void reg__session_init(struct reg_session *s, struct registry *r, const struct model_name *n,
                       const struct registry_request *req);
/* A copy that a download thread can own (cancel is not copied). */
void reg__session_copy(struct reg_session *dst, const struct reg_session *src);
void reg__session_release(struct reg_session *s);

/* One request with Ollama's makeRequestWithRetry auth rule: a 401 is answered
 * once (token or basic), a second 401 is ERR_AUTH "unauthorized: access
 * denied". Other statuses are returned in resp for the caller to judge.
 * ERR_CANCELLED when the session's cancel flag is set. */
int reg__do(struct reg_session *s, const struct reg_req *q, struct reg_resp *resp,
            char err[ERR_MSG_LEN]);
void reg__resp_release(struct reg_resp *r);
/* Answers a WWW-Authenticate challenge: fetches a bearer token from its realm
 * (or switches to basic auth when credentials were given). */
int reg__authorize(struct reg_session *s, const char *www_auth, char err[ERR_MSG_LEN]);
/* Adds User-Agent, timeouts, the cancel check and authorization to h; the
 * returned header list (owned by the caller) extends extra. */
struct curl_slist *reg__prepare(CURL *h, struct reg_session *s, struct curl_slist *extra);
/* err = "<status>: <body>" (Ollama's text for registry errors), ERR_PROTOCOL. */
int reg__status_error(const struct reg_resp *resp, char err[ERR_MSG_LEN]);
/* "pulling " / "pushing " + the 12 hex digits after "sha256:". */
void reg__layer_status(char out[32], const char *verb, const char *digest);
void reg__emit(const struct registry_request *req, const char *status, const char *digest,
               int64_t total, int64_t completed);
bool reg__cancelled(const atomic_bool *cancel);

/* Makes sure layer's bytes are in a verified partial file ready to adopt:
 * joins (or starts) the shared download of that digest and waits for it,
 * emitting "pulling <hex12>" lines. 0 when the blob is ready at
 * store_blob_partial_path (or already in the store). */
int reg__blob_fetch(struct reg_session *s, const struct store_layer *layer,
                    const struct registry_request *req, char err[ERR_MSG_LEN]);
/* Removes the part sidecars of digest's partial download. */
void reg__partial_cleanup(struct store *st, const char *digest);
/* Stops and waits for every download thread (registry_free). */
void reg__flights_shutdown(struct registry *r);

#endif
