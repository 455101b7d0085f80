/* Test helper: loading a shared test-data model with validation on (util_models.c). */
#ifndef VKSLM_TEST_UTIL_MODELS_H
#define VKSLM_TEST_UTIL_MODELS_H
#include "vkslm.h"

/* Loads "<testdata>/<rel>" with the validation layer; a failure prints the library's message and fails
 * the test (CU_ASSERT_FATAL), so the result is never NULL. */
vkslm_model *test_model_load(const char *rel);
#endif
