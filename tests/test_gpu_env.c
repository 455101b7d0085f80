/* Numeric environment variables are read strictly when a model opens its device: a bad value fails the
 * load with VKSLM_ERR_INVALID_ARG and a message naming the variable and the value; suffixes work. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "vkslm.h"

static vkslm_status load(vkslm_model **m) {
    char path[1024];
    test_data_path(path, sizeof path, "models/stories260K.gguf");
    vkslm_model_params mp = vkslm_model_default_params();
    mp.validate = true;
    *m = NULL;
    return vkslm_model_load(path, &mp, m);
}

static void expect_refused(const char *name, const char *value) {
    setenv(name, value, 1);
    vkslm_model *m;
    vkslm_status st = load(&m);
    char quoted[80];
    snprintf(quoted, sizeof quoted, "%s=\"%s\"", name, value);
    if (st != VKSLM_ERR_INVALID_ARG || !strstr(vkslm_last_error(), quoted))
        fprintf(stderr, "  %s: status %d, \"%s\"\n", quoted, (int)st, vkslm_last_error());
    CU_ASSERT_EQUAL(st, VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), quoted));
    vkslm_model_free(m);
    unsetenv(name);
}

static void test_bad_values_fail_the_load(void) {
    TEST_REQUIRE_DATA();
    TEST_REQUIRE_GPU(test_gpu());
    static const char *const bad[] = {"2x", "-5", "", "1.5G", "2GB", " 2G", "0x100000", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        expect_refused("VKSLM_DEVICE_MEMORY_LIMIT", bad[i]);
    expect_refused("VKSLM_STAGING_BYTES", "16MB");
    expect_refused("VKSLM_STAGING_BYTES", "100"); /* below the 8 KiB ring */
    expect_refused("VKSLM_MAX_STORAGE_RANGE", "1M ");
}

static void test_suffixes(void) {
    TEST_REQUIRE_DATA();
    TEST_REQUIRE_GPU(test_gpu());
    vkslm_model *m;
    setenv("VKSLM_DEVICE_MEMORY_LIMIT", "2G", 1); /* 2 GiB: plenty (read as 2 bytes, it refused the model) */
    vkslm_status st = load(&m);
    if (st != VKSLM_OK)
        fprintf(stderr, "  2G: %s\n", vkslm_last_error());
    CU_ASSERT_EQUAL(st, VKSLM_OK);
    vkslm_model_free(m);
    setenv("VKSLM_DEVICE_MEMORY_LIMIT", "64KiB", 1); /* the 1.1 MiB model does not fit 64 KiB */
    CU_ASSERT_EQUAL(load(&m), VKSLM_ERR_OUT_OF_DEVICE_MEMORY);
    CU_ASSERT_PTR_NULL(m);
    unsetenv("VKSLM_DEVICE_MEMORY_LIMIT");
    setenv("VKSLM_STAGING_BYTES", "64K", 1);
    setenv("VKSLM_MAX_STORAGE_RANGE", "1M", 1);
    CU_ASSERT_EQUAL(load(&m), VKSLM_OK);
    vkslm_model_free(m);
    unsetenv("VKSLM_STAGING_BYTES");
    unsetenv("VKSLM_MAX_STORAGE_RANGE");
}

int main(void) {
    static const vkslm_test tests[] = {
        {"bad numeric variables fail model load, naming variable and value", test_bad_values_fail_the_load},
        {"K/M/G and KiB suffixes are powers of 1024", test_suffixes},
        {NULL, NULL},
    };
    return test_run_suite("gpu_env", tests);
}
