#include "tests/util_models.h"

#include <stdio.h>

#include "tests/harness.h"

vkslm_model *test_model_load(const char *rel) {
    char path[1024];
    vkslm_model_params mp = vkslm_model_default_params();
    mp.validate = true;
    vkslm_model *m = NULL;
    vkslm_status st = vkslm_model_load(test_data_path(path, sizeof path, rel), &mp, &m);
    if (st != VKSLM_OK)
        fprintf(stderr, "%s: %s\n", rel, vkslm_last_error());
    CU_ASSERT_FATAL(st == VKSLM_OK);
    return m;
}
