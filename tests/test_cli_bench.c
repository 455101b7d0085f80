/* `vkslm bench -o json` as scripts read it: every documented key, positive rates, a roofline fraction in
 * (0, 1], op time shares that add up to 100% ± 1; and the chart is a PNG. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"

/* The number after "key": in s, or -1e300 when absent. */
static double num(const char *s, const char *key) {
    char k[64];
    snprintf(k, sizeof k, "\"%s\": ", key);
    const char *p = strstr(s, k);
    return p ? strtod(p + strlen(k), NULL) : -1e300;
}

static void check_bench_json(const char *args) {
    static char out[1 << 16];
    char cmd[2048], path[1024];
    snprintf(cmd, sizeof cmd, "%s bench %s -p 16 -n 8 -r 2 -o json --chart /tmp/vkslm-test-chart.png", VKSLM_CLI,
             args);
    if (strstr(args, "%s")) {
        char a[1200];
        snprintf(a, sizeof a, args, test_data_path(path, sizeof path, "models/quant/tiny-llama-256-random-Q4_0.gguf"));
        snprintf(cmd, sizeof cmd, "%s bench %s -p 16 -n 8 -r 2 -o json --chart /tmp/vkslm-test-chart.png", VKSLM_CLI, a);
    }
    int rc = test_run_command(cmd, out, sizeof out);
    if (rc != 0)
        fprintf(stderr, "%s\n", out);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    static const char *keys[] = {"model", "arch", "type", "params", "weight_bytes", "weight_bytes_per_token", "device",
                                 "device_type", "n_prompt", "n_gen", "repetitions", "load_ms", "pp_tps", "pp_tps_sd",
                                 "tg_tps", "tg_tps_sd", "ttft_ms", "decode_record_us", "device_memory_bytes", "roofline_kind",
                                 "roofline_gbps", "decode_gbps", "roofline_fraction", "price_per_device_hour",
                                 "query_ms", "queries_per_device_hour", "cost_per_million_queries", "profile"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        char k[64];
        snprintf(k, sizeof k, "\"%s\":", keys[i]);
        if (!strstr(out, k)) {
            fprintf(stderr, "missing %s\n", keys[i]);
            CU_FAIL("bench json lacks a documented key");
        }
    }
    CU_ASSERT(num(out, "pp_tps") > 0);
    CU_ASSERT(num(out, "tg_tps") > 0);
    CU_ASSERT(num(out, "ttft_ms") > 0);
    CU_ASSERT(num(out, "decode_record_us") > 0);
    CU_ASSERT(num(out, "load_ms") > 0);
    CU_ASSERT(num(out, "roofline_gbps") > 0);
    CU_ASSERT(num(out, "device_memory_bytes") > num(out, "weight_bytes") - 1);
    double f = num(out, "roofline_fraction");
    CU_ASSERT(f > 0 && f <= 1);
    /* the cost of a query: 16 prompt tokens at pp_tps plus 8 at tg_tps, priced at the default 1 per hour */
    double q = 16 / num(out, "pp_tps") * 1e3 + 8 / num(out, "tg_tps") * 1e3;
    CU_ASSERT(fabs(num(out, "query_ms") - q) < 1e-3 * q);
    CU_ASSERT(fabs(num(out, "cost_per_million_queries") - q / 3600e3 * 1e6) < 1e-3 * q);
    double shares = 0;
    int ops = 0;
    for (const char *p = strstr(out, "\"share\": "); p; p = strstr(p + 1, "\"share\": ")) {
        double s = strtod(p + 9, NULL);
        CU_ASSERT(s >= 0 && s <= 1);
        shares += s;
        ops++;
    }
    CU_ASSERT(ops >= 4); /* at least the lookup, the products, attention and the argmax */
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"matvec\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"attention"));
    CU_ASSERT(shares > 0.99 && shares < 1.01);
    FILE *png = fopen("/tmp/vkslm-test-chart.png", "rb");
    CU_ASSERT_FATAL(png != NULL);
    unsigned char sig[8] = {0};
    CU_ASSERT_EQUAL(fread(sig, 1, 8, png), 8);
    fclose(png);
    CU_ASSERT_EQUAL(memcmp(sig, "\x89PNG\r\n\x1a\n", 8), 0);
    remove("/tmp/vkslm-test-chart.png");
}

static void test_bench_json_model_file(void) {
    TEST_REQUIRE_DATA();
    check_bench_json("-m %s");
}

static void test_bench_usage(void) {
    char out[4096];
    CU_ASSERT_EQUAL(test_run_command(VKSLM_CLI " bench -o xml 2>&1", out, sizeof out), 2);
    CU_ASSERT_EQUAL(test_run_command(VKSLM_CLI " bench -m /nonexistent.gguf 2>&1", out, sizeof out), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "nonexistent"));
}

int main(void) {
    static const vkslm_test tests[] = {
        {"bench -o json on a model file: every key, sane numbers, a PNG chart", test_bench_json_model_file},
        {"bench usage errors", test_bench_usage},
        {NULL, NULL},
    };
    return test_run_suite("cli_bench", tests);
}
