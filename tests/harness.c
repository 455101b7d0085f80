#include "tests/harness.h"

#include "engine/util/error.h"

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

int test_in_ci(void) {
    const char *ci = getenv("CI");
    return ci && *ci && strcmp(ci, "0") != 0 && strcmp(ci, "false") != 0;
}

const char *test_data_dir(void) {
    static int probed;
    static const char *dir;
    if (!probed) {
        probed = 1;
        const char *env = getenv("VKSLM_TESTDATA");
        const char *cand = env && *env ? env : VKSLM_TESTDATA_DIR;
        struct stat st;
        if (stat(cand, &st) == 0 && S_ISDIR(st.st_mode))
            dir = cand;
    }
    return dir;
}

char *test_data_path(char *buf, size_t cap, const char *rel) {
    const char *d = test_data_dir();
    snprintf(buf, cap, "%s/%s", d ? d : "(no testdata)", rel);
    return buf;
}

void test_skip(const char *why) {
    if (test_in_ci()) {
        fprintf(stderr, "FAIL (CI is set): %s\n", why);
        CU_FAIL_FATAL("required test resource missing under CI");
    }
    printf("\n  SKIP: %s\n", why);
}

uint64_t test_seed(void) {
    static uint64_t seed;
    static int init;
    if (!init) {
        init = 1;
        const char *env = getenv("VKSLM_TEST_SEED");
        seed = env && *env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
        printf("random seed: %llu (set VKSLM_TEST_SEED to repeat)\n", (unsigned long long)seed);
    }
    return seed;
}

void test_rng(vkslm_rng *r, uint64_t salt) { vkslm_rng_seed(r, test_seed() * 1000003ull + salt); }

int test_run_command(const char *cmd, char *out, size_t cap) {
    FILE *p = popen(cmd, "r");
    CU_ASSERT_FATAL(p != NULL);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

double test_nmse(const float *out, const float *ref, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)out[i] - (double)ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    if (num != num)
        return 1e30; /* NaN in the output */
    return den > 0 ? num / den : num;
}

int test_run_suite(const char *suite_name, const vkslm_test *tests) {
    test_seed();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite suite = CU_add_suite(suite_name, NULL, NULL);
    if (!suite)
        return 2;
    const char *only = getenv("VKSLM_TEST_ONLY"), *skip = getenv("VKSLM_TEST_SKIP");
    if (skip && !*skip)
        skip = NULL; /* "" would skip every test */
    for (const vkslm_test *t = tests; t->name; t++)
        if ((!only || strstr(t->name, only)) && (!skip || !strstr(t->name, skip)) &&
            !CU_add_test(suite, t->name, t->fn))
            return 2;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}

/* ---- GPU -------------------------------------------------------------------------------------- */
static void log_to_stderr(int level, const char *msg, void *user) {
    (void)user;
    static const char *names[] = {"error", "warning", "info", "debug"};
    fprintf(stderr, "[vkslm %s] %s\n", names[level < 0 || level > 3 ? 3 : level], msg);
}

static vkslm_vk *open_ctx(int profile) {
    vkslm_set_log(log_to_stderr, VKSLM_LOG_WARN, NULL);
    vkslm_vk_options opt = {.validate = 1, .profile = profile};
    vkslm_vk *vk = NULL;
    vkslm_status st = vkslm_vk_open(&opt, &vk);
    if (st != VKSLM_OK) {
        char why[1200];
        snprintf(why, sizeof why, "no usable Vulkan device with validation: %s", vkslm_last_error());
        test_skip(why);
        return NULL;
    }
    return vk;
}

static vkslm_vk *shared_vk;
static void close_shared(void) { vkslm_vk_close(shared_vk); }

vkslm_vk *test_gpu(void) {
    static int tried;
    if (!tried) {
        tried = 1;
        shared_vk = open_ctx(0);
        if (shared_vk) {
            const vkslm_vk_caps *c = vkslm_vk_get_caps(shared_vk);
            printf("GPU tests on '%s' (%s), subgroup size %u, bindable range %llu\n", c->name,
                   vkslm_vk_type_name(c->type), c->subgroup_size, (unsigned long long)vkslm_vk_max_range(shared_vk));
            atexit(close_shared);
        }
    } else if (!shared_vk) {
        test_skip("no Vulkan device");
    }
    return shared_vk;
}

vkslm_vk *test_gpu_open_env(const char *const *env, int profile) {
    char names[16][128];
    int n = 0;
    for (; env && env[n] && n < 16; n++) {
        const char *eq = strchr(env[n], '=');
        snprintf(names[n], sizeof names[n], "%.*s", eq ? (int)(eq - env[n]) : (int)strlen(env[n]), env[n]);
        setenv(names[n], eq ? eq + 1 : "1", 1);
    }
    vkslm_vk *vk = open_ctx(profile);
    for (int i = 0; i < n; i++)
        unsetenv(names[i]);
    return vk;
}

void test_gpu_assert_clean(const vkslm_vk *vk) {
    if (!vk)
        return;
    uint32_t errors, warnings;
    vkslm_vk_validation_counts(vk, &errors, &warnings);
    if (errors || warnings)
        fprintf(stderr, "validation: %u errors, %u warnings\n", errors, warnings);
    CU_ASSERT_EQUAL(errors, 0);
    CU_ASSERT_EQUAL(warnings, 0);
}
