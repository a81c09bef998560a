/* support.h — shared helpers for unit tests (cmocka).
 * Include after <cmocka.h>'s prerequisites; tests/unit/support/test.h does it. */
#ifndef GPURUN_TEST_SUPPORT_H
#define GPURUN_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* The shared test models folder (../shared/models, or $GPURUN_TEST_MODELS),
 * or NULL when it is missing. */
const char *test_models_dir(void);
/* models dir + "/" + rel, in a static buffer; NULL when that file is missing. */
const char *test_model_path(const char *rel);
/* Marks the current test skipped with a reason printed as "SKIP: reason". */
#define test_skip(...)                                                                   \
	do {                                                                             \
		print_message("SKIP: " __VA_ARGS__);                                     \
		print_message("\n");                                                     \
		skip();                                                                  \
	} while (0)
/* A scratch directory unique to this test process, created on first use. */
const char *test_tmp_dir(void);

#endif
