/* The Vulkan runtime: validation is really on, memory suballocation, staging transfers of odd sizes,
 * barriers between dependent dispatches only, timestamps, the pipeline cache file, limits. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/ops/elementwise.h"
#include "tests/harness.h"

static void test_validation_is_active(void) {
    /* a context of its own: this test provokes a validation error on purpose */
    vkslm_vk *vk = test_gpu_open_env(NULL, 0);
    TEST_REQUIRE_GPU(vk);
    const vkslm_vk_caps *caps = vkslm_vk_get_caps(vk);
    vkslm_buf b;
    CU_ASSERT_FATAL(vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, 8192, &b) == VKSLM_OK);
    const vkslm_pipeline *p;
    uint32_t spec[1] = {64};
    CU_ASSERT_FATAL(vkslm_vk_pipeline(vk, "elementwise_scale_f32_f32_p16", 2, sizeof(vkslm_elementwise_push), spec, 1, &p) == VKSLM_OK);
    vkslm_cmd *c;
    CU_ASSERT_FATAL(vkslm_cmd_create(vk, &c) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_begin(c) == VKSLM_OK);
    uint64_t off = caps->min_storage_offset_align > 1 ? caps->min_storage_offset_align / 2 : 0;
    vkslm_binding bind[2] = {{b.buffer, b.offset + 4 * off + 1, 64, 0, 0}, {b.buffer, b.offset + 4096, 64, 1, 0}};
    vkslm_elementwise_push pc = {.reps = 1, .nb = 16, .scale = 1.0f};
    uint32_t before, w;
    vkslm_vk_validation_counts(vk, &before, &w);
    CU_ASSERT_EQUAL(before, 0);
    vkslm_cmd_dispatch(c, p, bind, 2, &pc, 1, 1, 1, "misaligned");
    uint32_t after;
    vkslm_vk_validation_counts(vk, &after, &w);
    CU_ASSERT(after > before); /* an offset not aligned to minStorageBufferOffsetAlignment must be reported */
    vkslm_cmd_destroy(c);
    vkslm_vk_free(vk, &b);
    vkslm_vk_close(vk);
}

static void test_memory_suballocation(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    uint64_t used0, res0;
    vkslm_vk_memory_usage(vk, &used0, &res0);
    vkslm_buf bufs[40];
    vkslm_rng r;
    test_rng(&r, 7);
    for (int i = 0; i < 40; i++) {
        uint64_t size = 1 + vkslm_rng_u64(&r) % (3u << 20);
        CU_ASSERT_FATAL(vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, size, &bufs[i]) == VKSLM_OK);
        CU_ASSERT_EQUAL(bufs[i].size, size);
        CU_ASSERT_EQUAL(bufs[i].offset % 256, 0);
        for (int j = 0; j < i; j++) /* no two live suballocations overlap */
            if (bufs[j].buffer == bufs[i].buffer)
                CU_ASSERT(bufs[i].offset >= bufs[j].offset + bufs[j].size ||
                          bufs[j].offset >= bufs[i].offset + bufs[i].size);
    }
    uint64_t used1, res1;
    vkslm_vk_memory_usage(vk, &used1, &res1);
    CU_ASSERT(used1 > used0);
    CU_ASSERT(res1 < used1 * 4 + (64u << 20) + res0); /* a few blocks, not one per buffer */
    for (int i = 0; i < 40; i += 2)
        vkslm_vk_free(vk, &bufs[i]);
    for (int i = 1; i < 40; i += 2)
        vkslm_vk_free(vk, &bufs[i]);
    vkslm_vk_free(vk, &bufs[0]); /* double free of a cleared handle is a no-op */
    uint64_t used2, res2;
    vkslm_vk_memory_usage(vk, &used2, &res2);
    CU_ASSERT_EQUAL(used2, used0);
    /* a single buffer above maxMemoryAllocationSize is refused with a clear message */
    vkslm_buf huge;
    CU_ASSERT_EQUAL(vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, vkslm_vk_get_caps(vk)->max_memory_allocation_size + 1, &huge),
                    VKSLM_ERR_LIMIT);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "maxMemoryAllocationSize"));
    test_gpu_assert_clean(vk);
}

static void roundtrip(vkslm_vk *vk, uint64_t size, uint64_t salt) {
    vkslm_rng r;
    test_rng(&r, salt);
    unsigned char *src = malloc(size), *dst = malloc(size);
    for (uint64_t i = 0; i < size; i++)
        src[i] = (unsigned char)vkslm_rng_u64(&r);
    memset(dst, 0, size);
    vkslm_buf b;
    CU_ASSERT_FATAL(vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, size + 3, &b) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_vk_upload(vk, &b, 3, src, size) == VKSLM_OK); /* odd offset too */
    CU_ASSERT_FATAL(vkslm_vk_download(vk, &b, 3, dst, size) == VKSLM_OK);
    CU_ASSERT_EQUAL(memcmp(src, dst, size), 0);
    CU_ASSERT_EQUAL(vkslm_vk_upload(vk, &b, 4, src, size), VKSLM_ERR_INVALID_ARG); /* past the end */
    vkslm_vk_free(vk, &b);
    free(src);
    free(dst);
}

static void test_transfers_through_small_staging_ring(void) {
    const char *env[] = {"VKSLM_STAGING_BYTES=8192", "VKSLM_DISABLE_UMA=1", NULL};
    vkslm_vk *vk = test_gpu_open_env(env, 0);
    TEST_REQUIRE_GPU(vk);
    static const uint64_t sizes[] = {1, 4095, 4096, 4097, 12289, 1000003};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        roundtrip(vk, sizes[i], i);
    vkslm_buf b;
    CU_ASSERT_FATAL(vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, 40000, &b) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_vk_fill(vk, &b, 0, 40000, 0xdeadbeefu) == VKSLM_OK);
    uint32_t *w = malloc(40000);
    CU_ASSERT_FATAL(vkslm_vk_download(vk, &b, 0, w, 40000) == VKSLM_OK);
    int ok = 1;
    for (int i = 0; i < 10000; i++)
        ok &= w[i] == 0xdeadbeefu;
    CU_ASSERT(ok);
    free(w);
    vkslm_vk_free(vk, &b);
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);
}

static void test_transfers_direct(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    roundtrip(vk, 777777, 99);
    test_gpu_assert_clean(vk);
}

/* Dependent dispatches get a barrier; independent ones none. Timestamps give one time per dispatch. */
static void test_barriers_and_timestamps(void) {
    vkslm_vk *vk = test_gpu_open_env(NULL, 1);
    TEST_REQUIRE_GPU(vk);
    enum { N = 1000 };
    vkslm_buf x, y, z;
    CU_ASSERT_FATAL(vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, N * 4, &x) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, N * 4, &y) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, N * 4, &z) == VKSLM_OK);
    float h[N];
    for (int i = 0; i < N; i++)
        h[i] = (float)i;
    CU_ASSERT_FATAL(vkslm_vk_upload(vk, &x, 0, h, sizeof h) == VKSLM_OK);
    vkslm_tensor tx = vkslm_tensor_1d(&x, 0, VKSLM_TYPE_F32, N), ty = vkslm_tensor_1d(&y, 0, VKSLM_TYPE_F32, N),
                 tz = vkslm_tensor_1d(&z, 0, VKSLM_TYPE_F32, N);
    vkslm_cmd *c;
    CU_ASSERT_FATAL(vkslm_cmd_create(vk, &c) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_begin(c) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_op_scale(c, &ty, &tx, 2.0f) == VKSLM_OK); /* y = 2x */
    CU_ASSERT_FATAL(vkslm_op_scale(c, &tz, &tx, 3.0f) == VKSLM_OK); /* z = 3x: independent of y */
    CU_ASSERT_EQUAL(vkslm_cmd_barrier_count(c), 0);
    CU_ASSERT_FATAL(vkslm_op_add(c, &tx, &ty, &tz) == VKSLM_OK);    /* x = y + z: reads y, z; overwrites x */
    CU_ASSERT_EQUAL(vkslm_cmd_barrier_count(c), 1);
    CU_ASSERT_FATAL(vkslm_op_add(c, &ty, &tx, &tx) == VKSLM_OK);    /* y = x + x */
    CU_ASSERT_EQUAL(vkslm_cmd_barrier_count(c), 2);
    CU_ASSERT_FATAL(vkslm_cmd_submit_wait(c) == VKSLM_OK);
    float out[N];
    CU_ASSERT_FATAL(vkslm_vk_download(vk, &y, 0, out, sizeof out) == VKSLM_OK);
    int ok = 1;
    for (int i = 0; i < N; i++)
        ok &= out[i] == 10.0f * i;
    CU_ASSERT(ok);
    const vkslm_timing *t;
    uint32_t nt = vkslm_cmd_timings(c, &t);
    if (vkslm_vk_get_caps(vk)->timestamps) {
        CU_ASSERT_EQUAL(nt, 4);
        for (uint32_t i = 0; i < nt; i++)
            CU_ASSERT(t[i].gpu_ms >= 0.0 && t[i].gpu_ms < 10000.0);
        CU_ASSERT_STRING_EQUAL(t[2].label, "add");
    }
    /* the recorder is reusable */
    CU_ASSERT_FATAL(vkslm_cmd_begin(c) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_op_scale(c, &tz, &ty, 0.5f) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_submit_wait(c) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_vk_download(vk, &z, 0, out, sizeof out) == VKSLM_OK);
    CU_ASSERT_EQUAL(out[N - 1], 5.0f * (N - 1));
    vkslm_cmd_destroy(c);
    vkslm_vk_free(vk, &x);
    vkslm_vk_free(vk, &y);
    vkslm_vk_free(vk, &z);
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);
}

static int warnings_seen;
static void count_warnings(int level, const char *msg, void *user) {
    (void)user;
    if (level == 1 && strstr(msg, "pipeline cache"))
        warnings_seen++;
}

static int find_cache_file(const char *dir, char *out, size_t cap) {
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, "pipelines-", 10) == 0 && strstr(e->d_name, ".bin") && !strstr(e->d_name, ".tmp")) {
            snprintf(out, cap, "%s/%s", dir, e->d_name);
            found = 1;
        }
    closedir(d);
    return found;
}

/* A pipeline is made once per (variant, constants) and found again by id, by name and from other threads'
 * lookups alike; a dry recording resolves pipelines without recording anything. */
static void test_kernel_table(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    const vkslm_pipeline *a, *b, *d;
    uint32_t spec[1] = {64}, other[1] = {32};
    uint32_t nb = 3, push = sizeof(vkslm_elementwise_push);
    CU_ASSERT_FATAL(vkslm_vk_kernel(vk, VKSLM_SHADER_ELEMENTWISE_ADD_F32_F32_P16, nb, push, spec, 1, &a) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_vk_kernel(vk, VKSLM_SHADER_ELEMENTWISE_ADD_F32_F32_P16, nb, push, spec, 1, &b) == VKSLM_OK);
    CU_ASSERT_PTR_EQUAL(a, b);
    CU_ASSERT_FATAL(vkslm_vk_pipeline(vk, "elementwise_add_f32_f32_p16", nb, push, spec, 1, &b) == VKSLM_OK);
    CU_ASSERT_PTR_EQUAL(a, b);
    CU_ASSERT_FATAL(vkslm_vk_kernel(vk, VKSLM_SHADER_ELEMENTWISE_ADD_F32_F32_P16, nb, push, other, 1, &d) == VKSLM_OK);
    CU_ASSERT_PTR_NOT_EQUAL(a, d);
    CU_ASSERT_EQUAL(d->local_size[0], 32);
    CU_ASSERT_EQUAL(vkslm_vk_kernel(vk, VKSLM_SHADER_COUNT, nb, push, spec, 1, &d), VKSLM_ERR_INVALID_ARG);
    vkslm_buf x;
    CU_ASSERT_FATAL(vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, 4096, &x) == VKSLM_OK);
    vkslm_tensor t = vkslm_tensor_1d(&x, 0, VKSLM_TYPE_F32, 1024);
    vkslm_cmd *c;
    CU_ASSERT_FATAL(vkslm_cmd_create_dry(vk, &c) == VKSLM_OK);
    CU_ASSERT(vkslm_cmd_is_dry(c));
    CU_ASSERT_FATAL(vkslm_cmd_begin(c) == VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_op_add(c, &t, &t, &t), VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_op_softcap(c, &t, &t, -1.0f), VKSLM_ERR_INVALID_ARG); /* still checked */
    CU_ASSERT_EQUAL(vkslm_cmd_barrier_count(c), 0);
    CU_ASSERT_EQUAL(vkslm_cmd_submit_wait(c), VKSLM_OK);
    vkslm_cmd_destroy(c);
    vkslm_vk_free(vk, &x);
    test_gpu_assert_clean(vk);
}

static void make_pipeline(vkslm_vk *vk) {
    const vkslm_pipeline *p;
    uint32_t spec[1] = {32};
    CU_ASSERT_EQUAL(vkslm_vk_pipeline(vk, "elementwise_add_f32_f32_p16", 3, sizeof(vkslm_elementwise_push), spec, 1, &p), VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_vk_pipeline(vk, "no_such_variant", 3, 32, spec, 1, &p), VKSLM_ERR_UNSUPPORTED);
}

static void test_pipeline_cache_file(void) {
    char dir[] = "/tmp/vkslm-cache-XXXXXX";
    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    char sub[600], env[700];
    snprintf(sub, sizeof sub, "%s/nested/dir", dir);
    snprintf(env, sizeof env, "VKSLM_CACHE_DIR=%s", sub);
    const char *envs[] = {env, NULL};
    vkslm_vk *vk = test_gpu_open_env(envs, 0);
    TEST_REQUIRE_GPU(vk);
    make_pipeline(vk);
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);
    char path[1200];
    CU_ASSERT_FATAL(find_cache_file(sub, path, sizeof path));
    struct stat st;
    CU_ASSERT(stat(path, &st) == 0 && st.st_size > 64);

    /* a valid file loads without a warning */
    vkslm_vk_options opt = {.validate = 1};
    setenv("VKSLM_CACHE_DIR", sub, 1);
    warnings_seen = 0;
    vkslm_set_log(count_warnings, 1, NULL);
    CU_ASSERT_FATAL(vkslm_vk_open(&opt, &vk) == VKSLM_OK);
    CU_ASSERT_EQUAL(warnings_seen, 0);
    vkslm_vk_close(vk);

    /* corrupt it: flip bytes in the middle; opening still works, with a warning, and pipelines build */
    FILE *f = fopen(path, "r+b");
    CU_ASSERT_FATAL(f != NULL);
    fseek(f, st.st_size / 2, SEEK_SET);
    fputs("garbage!", f);
    fclose(f);
    warnings_seen = 0;
    CU_ASSERT_FATAL(vkslm_vk_open(&opt, &vk) == VKSLM_OK);
    CU_ASSERT_EQUAL(warnings_seen, 1);
    make_pipeline(vk);
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);

    /* a foreign file (wrong magic) and a truncated one: ignored with a warning each */
    f = fopen(path, "wb");
    fputs("this is not a pipeline cache at all", f);
    fclose(f);
    warnings_seen = 0;
    CU_ASSERT_FATAL(vkslm_vk_open(&opt, &vk) == VKSLM_OK);
    CU_ASSERT_EQUAL(warnings_seen, 1);
    vkslm_vk_close(vk);
    unsetenv("VKSLM_CACHE_DIR");

    /* clean up the temporary folder */
    remove(path);
    snprintf(path, sizeof path, "%s/nested/dir", dir);
    rmdir(path);
    snprintf(path, sizeof path, "%s/nested", dir);
    rmdir(path);
    rmdir(dir);
}

static void test_device_selector(void) {
    vkslm_vk_caps *caps;
    uint32_t n;
    int chosen;
    vkslm_status st = vkslm_vk_list_devices(NULL, &caps, &n, &chosen);
    if (st != VKSLM_OK) {
        test_skip("no Vulkan device");
        return;
    }
    CU_ASSERT(n >= 1 && chosen >= 0 && chosen < (int)n);
    free(caps);
    CU_ASSERT_EQUAL(vkslm_vk_list_devices("0", &caps, &n, &chosen), VKSLM_OK);
    CU_ASSERT_EQUAL(chosen, 0);
    free(caps);
    CU_ASSERT_EQUAL(vkslm_vk_list_devices("no such device name", &caps, &n, &chosen), VKSLM_OK);
    CU_ASSERT_EQUAL(chosen, -1);
    free(caps);
    /* opening with a bad selector fails cleanly */
    vkslm_vk_options opt = {.device = "999"};
    vkslm_vk *vk = NULL;
    CU_ASSERT_EQUAL(vkslm_vk_open(&opt, &vk), VKSLM_ERR_NO_DEVICE);
    CU_ASSERT_PTR_NULL(vk);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "out of range"));
    vkslm_device_info info[4];
    int count = 0;
    CU_ASSERT_EQUAL(vkslm_devices_list(info, 4, &count, &chosen), VKSLM_OK);
    CU_ASSERT(count >= 1 && info[0].name[0] != 0 && info[0].max_storage_buffer_range > 0);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"the validation layer reports a misaligned binding", test_validation_is_active},
        {"memory suballocation, reuse and limits", test_memory_suballocation},
        {"uploads and downloads of odd sizes through an 8 KiB staging ring", test_transfers_through_small_staging_ring},
        {"uploads and downloads on the default path", test_transfers_direct},
        {"barriers only between dependent dispatches; timestamps", test_barriers_and_timestamps},
        {"pipeline cache persisted; corrupt or foreign files ignored", test_pipeline_cache_file},
        {"pipelines made once per variant and constants; dry recordings", test_kernel_table},
        {"device selection by index and name", test_device_selector},
        {NULL, NULL},
    };
    return test_run_suite("gpu_runtime", tests);
}
