/* Shared test scaffolding: a CUnit main, the shared test-data folder, seeded randomness, NMSE, and the
 * GPU context (created once per executable with validation on). */
#ifndef VKSLM_TEST_HARNESS_H
#define VKSLM_TEST_HARNESS_H

#include <CUnit/CUnit.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/util/rng.h"

typedef struct vkslm_test {
    const char *name;
    void (*fn)(void);
} vkslm_test;

/* Runs one suite of tests (NULL-terminated array); returns the process exit code. With env VKSLM_TEST_ONLY
 * set, only the tests whose names contain that text run (ctest runs a suite's one test in another setting);
 * with env VKSLM_TEST_SKIP set, the tests whose names contain that text do not (emulated runs leave out the
 * slowest). */
int test_run_suite(const char *suite, const vkslm_test *tests);

/* True when CI is set in the environment: then a missing device or missing test data fails. */
int test_in_ci(void);

/* The shared test-data folder (env VKSLM_TESTDATA overrides), or NULL when absent; a test that needs
 * it calls TEST_REQUIRE_DATA() which skips (saying so) or, in CI, fails. */
const char *test_data_dir(void);
/* Writes "<testdata>/<rel>" into buf; returns buf. */
char *test_data_path(char *buf, size_t cap, const char *rel);
void test_skip(const char *why); /* prints SKIP and counts it; fails under CI */

#define TEST_REQUIRE_DATA()                                            \
    do {                                                               \
        if (!test_data_dir()) {                                        \
            test_skip("../shared/testdata not found");                 \
            return;                                                    \
        }                                                              \
    } while (0)

/* The seed of this process's random inputs (env VKSLM_TEST_SEED, else time-based), printed at start. */
uint64_t test_seed(void);
void test_rng(vkslm_rng *r, uint64_t salt);

/* What a shell command puts before a program of this build to run it: nothing natively; in a cross build
 * (cmake/aarch64-linux-gnu.cmake) the emulator and its options, with a trailing space. VKSLM_CLI (the CLI's
 * command) already holds it. */
#ifdef VKSLM_CLI_EMULATOR
#define TEST_EXEC_PREFIX VKSLM_CLI_EMULATOR " "
#else
#define TEST_EXEC_PREFIX ""
#endif

/* Runs a shell command (redirections are the caller's), captures up to cap - 1 bytes of its standard
 * output into out (NUL-terminated) and returns its exit status (-1 if it did not exit normally). */
int test_run_command(const char *cmd, char *out, size_t cap);

/* Normalised mean squared error sum((a-b)^2) / sum(b^2) (b is the reference). */
double test_nmse(const float *out, const float *ref, size_t n);


/* ---- GPU -------------------------------------------------------------------------------------- */
#include "engine/vk/vk.h"

/* The process's shared device context, opened once with validation on; NULL (after test_skip) when
 * no Vulkan device exists. Validation and library messages go to stderr. */
vkslm_vk *test_gpu(void);
/* Opens another context (validation on) after setting the given environment variables ("NAME=VALUE",
 * NULL-terminated), which are unset again afterwards. NULL when no device (test_skip called). */
vkslm_vk *test_gpu_open_env(const char *const *env, int profile);
/* Asserts that vk has reported no validation message since open. */
void test_gpu_assert_clean(const vkslm_vk *vk);

#define TEST_REQUIRE_GPU(vk)    \
    do {                        \
        if (!(vk))              \
            return;             \
    } while (0)
#endif
