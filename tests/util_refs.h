/* Reading ../shared/testdata/refs: MODEL.PROMPT.txt (llama.cpp's reference run) and its logits files. */
#ifndef VKSLM_TEST_UTIL_REFS_H
#define VKSLM_TEST_UTIL_REFS_H
#include <stdint.h>

typedef struct test_ref {
    char model[256];   /* path under models/ */
    char prompt[1024];
    int add_bos;
    int32_t prompt_tokens[512];
    uint32_t n_prompt;
    uint32_t n_vocab;
    int32_t top8[8];
    float top8_logit[8];
    int32_t greedy[64];
    uint32_t n_greedy;
} test_ref;

/* Loads refs/<name>.txt (name like "stories260K.short"); 0 on success. */
int test_ref_load(const char *name, test_ref *r);
/* Reads refs/<name>.exact.logits.f32 (exact = 1) or refs/<name>.logits.f32: n_vocab floats, malloc'd. */
float *test_ref_logits(const char *name, uint32_t n_vocab, int exact);
/* Every reference name (without .txt), NULL-terminated; static storage. With env VKSLM_TEST_REFS set to a
 * comma-separated list of models (file names under models/ without .gguf, like "stories260K"), only those
 * models' references (slow passes such as the aarch64 emulation run one model). */
const char *const *test_ref_names(void);
/* True when VKSLM_TEST_REFS narrows test_ref_names() (suites then expect at least one name, not all). */
int test_refs_filtered(void);
#endif
