/* Device choice rules on synthetic capability lists (no device needed). */
#include <string.h>

#include "tests/harness.h"

static vkslm_vk_caps dev(const char *name, VkPhysicalDeviceType type, uint64_t local) {
    vkslm_vk_caps c;
    memset(&c, 0, sizeof c);
    strcpy(c.name, name);
    c.type = type;
    c.api_version = VK_API_VERSION_1_3;
    c.device_local_bytes = local;
    return c;
}

static void test_default_order(void) {
    vkslm_vk_caps c[4] = {
        dev("llvmpipe (LLVM 15)", VK_PHYSICAL_DEVICE_TYPE_CPU, 1ull << 31),
        dev("Intel UHD 770", VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU, 8ull << 30),
        dev("NVIDIA RTX 4060", VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU, 8ull << 30),
        dev("virtio-gpu", VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU, 1ull << 30),
    };
    int chosen;
    CU_ASSERT_EQUAL(vkslm_vk_choose(c, 4, NULL, &chosen), VKSLM_OK);
    CU_ASSERT_EQUAL(chosen, 2); /* discrete */
    CU_ASSERT_EQUAL(vkslm_vk_choose(c, 2, NULL, &chosen), VKSLM_OK);
    CU_ASSERT_EQUAL(chosen, 1); /* integrated beats CPU */
    vkslm_vk_caps v[2] = {c[0], c[3]};
    CU_ASSERT_EQUAL(vkslm_vk_choose(v, 2, NULL, &chosen), VKSLM_OK);
    CU_ASSERT_EQUAL(chosen, 1); /* virtual beats CPU */
    /* two discrete GPUs: more device-local memory wins */
    vkslm_vk_caps d[2] = {dev("small", VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU, 4ull << 30),
                          dev("big", VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU, 24ull << 30)};
    CU_ASSERT_EQUAL(vkslm_vk_choose(d, 2, "", &chosen), VKSLM_OK);
    CU_ASSERT_EQUAL(chosen, 1);
    /* a Vulkan 1.1 device is never chosen by default */
    c[2].api_version = VK_API_VERSION_1_1;
    CU_ASSERT_EQUAL(vkslm_vk_choose(c, 4, NULL, &chosen), VKSLM_OK);
    CU_ASSERT_EQUAL(chosen, 1);
}

static void test_selectors(void) {
    vkslm_vk_caps c[3] = {
        dev("llvmpipe (LLVM 15)", VK_PHYSICAL_DEVICE_TYPE_CPU, 1),
        dev("AMD Radeon 780M", VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU, 2),
        dev("NVIDIA GeForce RTX 4090", VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU, 3),
    };
    int chosen;
    CU_ASSERT_EQUAL(vkslm_vk_choose(c, 3, "0", &chosen), VKSLM_OK);
    CU_ASSERT_EQUAL(chosen, 0);
    CU_ASSERT_EQUAL(vkslm_vk_choose(c, 3, "radeon", &chosen), VKSLM_OK);
    CU_ASSERT_EQUAL(chosen, 1);
    CU_ASSERT_EQUAL(vkslm_vk_choose(c, 3, "LLVMPIPE", &chosen), VKSLM_OK);
    CU_ASSERT_EQUAL(chosen, 0);
    CU_ASSERT_EQUAL(vkslm_vk_choose(c, 3, "3", &chosen), VKSLM_ERR_NO_DEVICE);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "out of range"));
    CU_ASSERT_EQUAL(vkslm_vk_choose(c, 3, "-1", &chosen), VKSLM_ERR_NO_DEVICE);
    CU_ASSERT_EQUAL(vkslm_vk_choose(c, 3, "mali", &chosen), VKSLM_ERR_NO_DEVICE);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "mali"));
    CU_ASSERT_EQUAL(chosen, -1);
    CU_ASSERT_EQUAL(vkslm_vk_choose(c, 0, NULL, &chosen), VKSLM_ERR_NO_DEVICE);
}

static void test_status_strings(void) {
    CU_ASSERT_STRING_EQUAL(vkslm_status_str(VKSLM_OK), "ok");
    CU_ASSERT_STRING_EQUAL(vkslm_status_str(VKSLM_ERR_OUT_OF_DEVICE_MEMORY), "out of device memory");
    CU_ASSERT_STRING_EQUAL(vkslm_status_str((vkslm_status)12345), "unknown status");
    CU_ASSERT_EQUAL(vkslm_vk_fail(VK_ERROR_OUT_OF_DEVICE_MEMORY, "vkAllocateMemory(dev, &info, NULL, &m)"),
                    VKSLM_ERR_OUT_OF_DEVICE_MEMORY);
    CU_ASSERT_STRING_EQUAL(vkslm_last_error(), "vkAllocateMemory failed: VK_ERROR_OUT_OF_DEVICE_MEMORY (-2)");
    CU_ASSERT_EQUAL(vkslm_vk_fail(VK_ERROR_DEVICE_LOST, "vkQueueSubmit"), VKSLM_ERR_DEVICE_LOST);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"default choice: discrete > integrated > virtual > CPU", test_default_order},
        {"selectors: index and case-insensitive name substring", test_selectors},
        {"status strings and VkResult messages", test_status_strings},
        {NULL, NULL},
    };
    return test_run_suite("vk_choose", tests);
}
