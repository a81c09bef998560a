/* modelfile_fuzz.c — libFuzzer target for the legacy Modelfile text of
 * /api/create (FROM, PARAMETER, TEMPLATE, SYSTEM, LICENSE, MESSAGE, ADAPTER
 * with bare, "quoted" and """triple-quoted""" values): any byte string (cut
 * at its first NUL, as the JSON field is) parses or fails with a message
 * and leaves nothing allocated. The PARAMETER values of a Modelfile that
 * parses must then apply as a params layer, the way /api/create stores them
 * and a request reads them back, through their JSON text too. */
#include "ollama/server_internal.h"

#include "base/log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void apply_params(const cJSON *params)
{
	struct gen_options o;
	char err[ERR_MSG_LEN] = "";
	gen_options_init(&o);
	if (gen_options_apply(&o, params, err) != 0)
		abort(); /* the parser typed every value for its option */
	char *text = cJSON_PrintUnformatted(params);
	gen_options_release(&o);
	gen_options_init(&o);
	if (text && gen_options_apply_text(&o, text, err) != 0 && !err[0])
		abort();
	if (o.n_stop < 0 || o.n_stop >= ENGINE_MAX_STOP)
		abort();
	free(text);
	gen_options_release(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t size)
{
	static bool quiet;
	if (!quiet) {
		log_set_level(LOG_ERROR); /* unknown options are logged as warnings */
		quiet = true;
	}
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, d, size);
	text[size] = '\0';
	struct modelfile mf;
	char err[ERR_MSG_LEN] = "";
	if (modelfile_parse(text, &mf, err) == 0) {
		if (!mf.from)
			abort(); /* FROM is required */
		if (mf.params)
			apply_params(mf.params);
		modelfile_release(&mf);
	} else if (!err[0] || mf.from || mf.params || mf.messages || mf.licenses) {
		abort(); /* an error has a message and leaves mf empty */
	}
	free(text);
	return 0;
}
