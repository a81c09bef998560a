/* ledger.c — names of ledger event kinds and freeing rows read back from
 * the state (see ledger.h). */
#include "platform/ledger.h"

#include <stdlib.h>
#include <string.h>

static const char *const kinds[] = {"instance_start", "instance_ready", "instance_stop",
                                    "instance_exit", "request"};

const char *ledger_kind_str(enum ledger_kind k)
{
	return (unsigned)k < sizeof kinds / sizeof kinds[0] ? kinds[k] : "unknown";
}

bool ledger_kind_parse(const char *s, enum ledger_kind *k)
{
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		if (!strcmp(s, kinds[i])) {
			*k = (enum ledger_kind)i;
			return true;
		}
	}
	return false;
}

void ledger_rows_release(struct ledger_rows *r)
{
	if (!r)
		return;
	for (int64_t i = 0; i < r->n; i++) {
		struct ledger_row *w = &r->rows[i];
		free((void *)w->service);
		free((void *)w->revision);
		free((void *)w->instance);
		free((void *)w->gpu_type);
		free((void *)w->request_id);
	}
	free(r->rows);
	r->rows = NULL;
	r->n = 0;
}
