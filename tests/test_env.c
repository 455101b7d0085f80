/* Numeric environment variables (engine/util/env.h): the strict parser (a whole number with an optional
 * K/M/G/T or KiB/MiB/GiB/TiB suffix, nothing else) and the messages of the readers. CPU only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util/env.h"
#include "tests/harness.h"

static void test_parse_accepts(void) {
    static const struct {
        const char *s;
        uint64_t want;
    } ok[] = {
        {"0", 0},
        {"7", 7},
        {"007", 7},
        {"4096", 4096},
        {"2K", 2048},
        {"2k", 2048},
        {"3M", 3ull << 20},
        {"2G", 2ull << 30},
        {"2g", 2ull << 30},
        {"1T", 1ull << 40},
        {"2KiB", 2048},
        {"5MiB", 5ull << 20},
        {"1GiB", 1ull << 30},
        {"16777215T", 16777215ull << 40},
        {"18446744073709551615", UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        uint64_t v = 12345;
        int parsed = vkslm_parse_size(ok[i].s, 1, &v);
        if (!parsed || v != ok[i].want)
            fprintf(stderr, "  \"%s\": parsed %d, %llu\n", ok[i].s, parsed, (unsigned long long)v);
        CU_ASSERT(parsed && v == ok[i].want);
    }
    uint64_t v = 0;
    CU_ASSERT(vkslm_parse_size("12", 0, &v) && v == 12); /* plain numbers without suffixes */
}

static void test_parse_rejects(void) {
    static const char *const bad[] = {
        "",     "-5",  "+5",   " 5",   "5 ",    "2x",    "2GB",  "2Gi",    "2GiBs", "2KIB",
        "2kib", "0x10", "1.5G", "G",   "1e3",   "5\n",   "1K2",  "18446744073709551616",
        "16777216T", "99999999999999999999999",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        uint64_t v = 12345;
        int parsed = vkslm_parse_size(bad[i], 1, &v);
        if (parsed)
            fprintf(stderr, "  \"%s\" was accepted as %llu\n", bad[i], (unsigned long long)v);
        CU_ASSERT_FALSE(parsed);
        CU_ASSERT_EQUAL(v, 12345); /* untouched */
    }
    uint64_t v;
    CU_ASSERT_FALSE(vkslm_parse_size("2K", 0, &v)); /* no suffix where a plain number is wanted */
    CU_ASSERT_FALSE(vkslm_parse_size(NULL, 1, &v));
}

static void test_readers(void) {
    const char *name = "VKSLM_TEST_ENV_NUMBER";
    uint64_t v = 1;
    unsetenv(name);
    CU_ASSERT_EQUAL(vkslm_env_size(name, 77, 0, UINT64_MAX, &v), VKSLM_OK); /* unset: the fallback */
    CU_ASSERT_EQUAL(v, 77);
    setenv(name, "2G", 1);
    CU_ASSERT_EQUAL(vkslm_env_size(name, 77, 0, UINT64_MAX, &v), VKSLM_OK);
    CU_ASSERT_EQUAL(v, 2ull << 30);

    static const char *const bad[] = {"2x", "-5", "", "1.5G"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        setenv(name, bad[i], 1);
        v = 1;
        CU_ASSERT_EQUAL(vkslm_env_size(name, 77, 0, UINT64_MAX, &v), VKSLM_ERR_INVALID_ARG);
        char quoted[32];
        snprintf(quoted, sizeof quoted, "=\"%s\"", bad[i]);
        CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), name));
        CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), quoted));
        CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "K, M, G"));
    }
    setenv(name, "100", 1); /* a number out of range is refused too, naming the bound */
    CU_ASSERT_EQUAL(vkslm_env_size(name, 77, 4096, UINT64_MAX, &v), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "at least 4096"));
    setenv(name, "5", 1);
    CU_ASSERT_EQUAL(vkslm_env_uint(name, 0, 1, 4, &v), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "at most 4"));
    setenv(name, "3K", 1);
    CU_ASSERT_EQUAL(vkslm_env_uint(name, 0, 1, 4, &v), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "whole number"));
    setenv(name, "3", 1);
    CU_ASSERT(vkslm_env_uint(name, 0, 1, 4, &v) == VKSLM_OK && v == 3);
    unsetenv(name);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"parse: whole numbers with K/M/G/T and KiB/MiB/GiB/TiB", test_parse_accepts},
        {"parse: trailing text, signs, spaces, overflow, empty are refused", test_parse_rejects},
        {"readers: fallback, value, and a message naming the variable", test_readers},
        {NULL, NULL},
    };
    return test_run_suite("env", tests);
}
