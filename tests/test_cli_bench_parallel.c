/* `vkslm bench --parallel LIST` as scripts read it: the JSON object gains "parallel", one element per N of the
 * list (1 added, increasing) with positive aggregate rates; CSV gains pp_parallel and tg_parallel rows with
 * as many columns as the header; the Markdown report gains a table; bad lists are refused with status 2.
 * Nothing here depends on the machine's speed: no speedup is asserted beyond being positive. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"

#define MODEL "models/stories260K.gguf"

static char out[1 << 17];

/* Runs `vkslm bench -m MODEL ARGS` (small -p, -n, -r); returns its status, stdout in out. */
static int bench(const char *args) {
    char cmd[2048], path[1024];
    snprintf(cmd, sizeof cmd, "%s bench -m %s -p 8 -n 4 -r 2 %s", VKSLM_CLI, test_data_path(path, sizeof path, MODEL),
             args);
    int rc = test_run_command(cmd, out, sizeof out);
    if (rc != 0)
        fprintf(stderr, "%s: status %d\n%s\n", cmd, rc, out);
    return rc;
}

/* The number after "key": in s (up to end, NULL: anywhere), or -1e300 when absent. */
static double num(const char *s, const char *end, const char *key) {
    char k[64];
    snprintf(k, sizeof k, "\"%s\": ", key);
    const char *p = strstr(s, k);
    return p && (!end || p < end) ? strtod(p + strlen(k), NULL) : -1e300;
}

static void test_json(void) {
    TEST_REQUIRE_DATA();
    CU_ASSERT_EQUAL_FATAL(bench("--parallel 4,2,4 -o json"), 0);
    /* one object: the single-sequence figures stay, "parallel" is a member of it */
    CU_ASSERT_EQUAL(out[0], '{');
    size_t len = strlen(out);
    CU_ASSERT(len > 2 && !strcmp(out + len - 2, "}\n"));
    CU_ASSERT(num(out, NULL, "pp_tps") > 0);
    CU_ASSERT(num(out, NULL, "tg_tps") > 0);
    const char *arr = strstr(out, "\"parallel\": [");
    CU_ASSERT_PTR_NOT_NULL_FATAL(arr);
    CU_ASSERT_PTR_NULL(strstr(arr + 1, "\"parallel\":"));
    static const uint32_t want[] = {1, 2, 4}; /* 1 added, sorted, duplicates dropped */
    const char *e = strchr(arr, '{');
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(e);
        const char *end = strchr(e, '}');
        CU_ASSERT_PTR_NOT_NULL_FATAL(end);
        CU_ASSERT_EQUAL(num(e, end, "n_parallel"), want[i]);
        CU_ASSERT(num(e, end, "pp_tps") > 0);
        CU_ASSERT(num(e, end, "tg_tps") > 0);
        CU_ASSERT(num(e, end, "pp_sd") >= 0);
        CU_ASSERT(num(e, end, "tg_sd") >= 0);
        CU_ASSERT(num(e, end, "pp_speedup") > 0);
        CU_ASSERT(num(e, end, "tg_speedup") > 0);
        double n_ctx = num(e, end, "n_ctx"), n_batch = num(e, end, "n_batch");
        CU_ASSERT(n_ctx >= 8 + 4);                       /* -p + -n positions per sequence */
        CU_ASSERT(n_batch >= want[i] && n_batch <= 512); /* a generation step is one step */
        CU_ASSERT_EQUAL(num(e, end, "kv_cells"), want[i] * n_ctx);
        CU_ASSERT(num(e, end, "session_bytes") > 0);
        if (i == 0) {
            CU_ASSERT_EQUAL(num(e, end, "pp_speedup"), 1);
            CU_ASSERT_EQUAL(num(e, end, "tg_speedup"), 1);
        }
        e = strchr(end, '{');
    }
    CU_ASSERT_PTR_NULL(e); /* nothing after the third element */
}

static void test_json_without(void) {
    TEST_REQUIRE_DATA();
    CU_ASSERT_EQUAL_FATAL(bench("-o json"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"parallel\": []"));
}

/* Fields of one CSV line (quoted commas count as text). */
static int csv_fields(const char *line, const char *end) {
    int n = 1, quoted = 0;
    for (const char *p = line; p < end; p++)
        if (*p == '"')
            quoted = !quoted;
        else if (*p == ',' && !quoted)
            n++;
    return n;
}

static void test_csv(void) {
    TEST_REQUIRE_DATA();
    CU_ASSERT_EQUAL_FATAL(bench("--parallel 1,3 -o csv"), 0);
    CU_ASSERT(strncmp(out, "model,", 6) == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, ",n_parallel,speedup\n"));
    const char *nl = strchr(out, '\n');
    CU_ASSERT_PTR_NOT_NULL_FATAL(nl);
    int cols = csv_fields(out, nl), rows = 0, par_rows = 0, n3 = 0;
    for (const char *line = nl + 1; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        CU_ASSERT_PTR_NOT_NULL_FATAL(nl);
        CU_ASSERT_EQUAL(csv_fields(line, nl), cols);
        rows++;
        char row[1024];
        snprintf(row, sizeof row, "%.*s", (int)(nl - line), line);
        if (strstr(row, ",pp_parallel,8,") || strstr(row, ",tg_parallel,4,")) {
            par_rows++;
            char *last = strrchr(row, ','); /* ...,n_parallel,speedup */
            *last = 0;
            n3 += atoi(strrchr(row, ',') + 1) == 3;
            CU_ASSERT(strtod(last + 1, NULL) > 0);
            const char *rate = strstr(row, "_parallel,") + 10;
            rate = strchr(rate, ',') + 1; /* after n_tokens: tps_mean */
            CU_ASSERT(strtod(rate, NULL) > 0);
        }
    }
    CU_ASSERT_EQUAL(rows, 2 + 4); /* pp and tg, then pp and tg for N = 1 and 3 */
    CU_ASSERT_EQUAL(par_rows, 4);
    CU_ASSERT_EQUAL(n3, 2);
}

static void test_markdown(void) {
    TEST_REQUIRE_DATA();
    CU_ASSERT_EQUAL_FATAL(bench("--parallel 2"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "| parallel | pp8 t/s"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\n| 1 | "));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\n| 2 | "));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "n_seq x n_ctx"));
}

static void test_bad_lists(void) {
    static const char *bad[] = {"0", "65", "", "a", "1,,4", "4,", ",4", "-1", "1;4", " 4", "4x", "1,0",
                                "99999999999999999999", "+4", "1 4"};
    char cmd[512], msg[4096];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(cmd, sizeof cmd, "%s bench -m /nonexistent.gguf --parallel '%s' 2>&1", VKSLM_CLI,
                 bad[i]); /* quoted; a list taken by mistake fails at the load (1), not after minutes */
        int rc = test_run_command(cmd, msg, sizeof msg);
        if (rc != 2)
            fprintf(stderr, "--parallel %s: status %d\n%s\n", bad[i], rc, msg);
        CU_ASSERT_EQUAL(rc, 2);
        CU_ASSERT_PTR_NOT_NULL(strstr(msg, "--parallel wants a comma-separated list"));
    }
    snprintf(cmd, sizeof cmd, "%s bench -m /nonexistent.gguf --parallel 2>&1", VKSLM_CLI); /* no value */
    CU_ASSERT_EQUAL(test_run_command(cmd, msg, sizeof msg), 2);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"bench --parallel -o json: one element per N (1 added), positive rates", test_json},
        {"bench -o json without --parallel: an empty array", test_json_without},
        {"bench --parallel -o csv: pp_parallel and tg_parallel rows", test_csv},
        {"bench --parallel: the Markdown table", test_markdown},
        {"bench --parallel: bad lists refused with status 2", test_bad_lists},
        {NULL, NULL},
    };
    return test_run_suite("cli_bench_parallel", tests);
}
