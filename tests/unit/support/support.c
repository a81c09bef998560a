/* support.c — unit test helpers (see support.h). */
#include "support.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *test_models_dir(void)
{
	static char dir[PATH_MAX];
	const char *env = getenv("GPURUN_TEST_MODELS");
	const char *d = env && *env ? env : "../shared/models";
	struct stat st;
	if (stat(d, &st) != 0 || !S_ISDIR(st.st_mode))
		return NULL;
	snprintf(dir, sizeof dir, "%s", d);
	return dir;
}

const char *test_model_path(const char *rel)
{
	static char path[PATH_MAX];
	const char *d = test_models_dir();
	if (!d)
		return NULL;
	snprintf(path, sizeof path, "%s/%s", d, rel);
	return access(path, R_OK) == 0 ? path : NULL;
}

const char *test_tmp_dir(void)
{
	static char dir[PATH_MAX];
	if (!dir[0]) {
		const char *t = getenv("TMPDIR");
		snprintf(dir, sizeof dir, "%s/gpurun-test-XXXXXX", t && *t ? t : "/tmp");
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			abort();
		}
	}
	return dir;
}
