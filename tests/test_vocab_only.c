/* Vocabulary-only loads (vkslm_model_params.vocab_only): no Vulkan device opened and no weight read, yet
 * tokenizing, detokenizing, token pieces, chat templates and the metadata calls give exactly what a full load
 * gives; the device calls refuse with a message (no crash on the missing device).
 * - every shared test vocabulary (vocab/, no weights, so no full load possible): the vocab-only model against
 *   the tokenizer a full load builds (the same file, engine/tokenizer) and against llama.cpp's ids (.out);
 * - every test model (models/): a vocab-only load against a full load of the same file, call by call;
 * - with no Vulkan driver at all (this program again, with VK_ICD_FILENAMES and VK_DRIVER_FILES pointing
 *   nowhere): a full load fails with VKSLM_ERR_NO_VULKAN or _NO_DEVICE, a vocab-only load works, and so does
 *   `vkslm tokenize`. */
#include <stdbool.h>
#include <unistd.h>

#include "tests/tok_util.h"
#include "vkslm.h"

static const char *const vocabs[] = {"baichuan", "bert-bge",  "deepseek-coder", "deepseek-llm", "falcon",
                                     "gpt-2",    "gpt-neox",  "llama-bpe",      "llama-spm",    "mpt",
                                     "phi-3",    "qwen2",     "refact",         "starcoder"};
static const char *const models[] = {"stories260K",      "llama-2-tiny-random", "tiny-llama3-random",
                                     "tiny-qwen2-random", "tiny-phi3-random",    "tiny-gemma-random",
                                     "tiny-gemma2-random", "tiny-mistral-style-random"};
/* texts beyond the vocabularies' own cases: control tokens of several families, bytes that are no UTF-8 */
static const char *const extra[] = {
    "",
    "Once upon a time",
    "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
    "<s>[INST] Hi there [/INST] </s>",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>",
    "<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\n<|endoftext|>",
    "<start_of_turn>user\nhey<end_of_turn>\n[CLS] a [SEP] [MASK]",
    "caf\xc3\xa9 \xe2\x82\xac 100 \xf0\x9f\x98\x80 \xff\xfe broken \xe2\x82 tail",
    "   leading spaces, tabs\t\tand\nnewlines\n\n",
};

static int n_fail;
#define EXPECT(cond, ...)                                                                                          \
    do {                                                                                                           \
        if (!(cond)) {                                                                                             \
            fprintf(stderr, "  FAIL %s:%d: ", __FILE__, __LINE__);                                                 \
            fprintf(stderr, __VA_ARGS__);                                                                          \
            fprintf(stderr, "\n");                                                                                 \
            n_fail++;                                                                                              \
        }                                                                                                          \
    } while (0)

static vkslm_model *load_vocab_only(const char *path) {
    vkslm_model_params mp = vkslm_model_default_params();
    mp.vocab_only = true;
    vkslm_model *m = NULL;
    vkslm_status st = vkslm_model_load(path, &mp, &m);
    EXPECT(st == VKSLM_OK && m, "%s: vocab-only load: %s: %s", path, vkslm_status_str(st), vkslm_last_error());
    return m;
}

/* ids of a public tokenize call into a malloc'd array; NULL (and *st) on failure */
static int32_t *model_tokens(const vkslm_model *m, const char *s, size_t len, int mode, int add, bool parse, size_t *n,
                             vkslm_status *st) {
    size_t cap = len * 2 + 16;
    int32_t *ids = malloc(cap * sizeof *ids);
    *st = mode == 0 ? vkslm_model_tokenize(m, s, len, add, parse, ids, cap, n)
                    : vkslm_model_tokenize_special(m, s, len, add != 0, parse, ids, cap, n);
    if (*st != VKSLM_OK) {
        free(ids);
        return NULL;
    }
    return ids;
}

/* The detokenized text of ids through the public call (valid UTF-8), malloc'd. */
static char *model_text(const vkslm_model *m, const int32_t *ids, size_t n, vkslm_status *st) {
    size_t len = 0;
    *st = vkslm_model_detokenize(m, ids, n, NULL, 0, &len);
    if (*st != VKSLM_OK)
        return NULL;
    char *text = malloc(len + 1);
    *st = vkslm_model_detokenize(m, ids, n, text, len + 1, &len);
    return text;
}

/* ---- every test vocabulary: vocab-only against the engine's tokenizer of the same file ------------------ */
static void check_against_tokenizer(const vkslm_model *m, const vkslm_tokenizer *t, const char *name, const char *s,
                                    size_t len) {
    for (int add = 0; add < 2; add++)
        for (int parse = 0; parse < 2; parse++) {
            size_t n_want = 0, n_got = 0;
            vkslm_status st;
            int32_t *want = tok_run(t, s, len, add, parse, &n_want);
            int32_t *got = model_tokens(m, s, len, 1, add, parse, &n_got, &st);
            EXPECT(want && got && n_got == n_want && memcmp(got, want, n_want * sizeof *want) == 0,
                   "%s: tokenize_special(add %d, parse %d) of '%.40s' differs", name, add, parse, s);
            /* vkslm_model_tokenize: BOS as the vocabulary says, never EOS */
            size_t n_bos = 0, n_plain = 0;
            int32_t *bos = model_tokens(m, s, len, 0, add ? -1 : 0, parse, &n_bos, &st);
            int32_t *plain = tok_run(t, s, len, 0, parse, &n_plain);
            int adds_bos = add && vkslm_tokenizer_adds_bos(t);
            EXPECT(bos && plain && n_bos == n_plain + (size_t)adds_bos &&
                       (!adds_bos || bos[0] == vkslm_token_bos(t)) &&
                       memcmp(bos + adds_bos, plain, n_plain * sizeof *plain) == 0,
                   "%s: tokenize(add_bos %d, parse %d) of '%.40s' differs", name, add ? -1 : 0, parse, s);
            if (want) { /* detokenize: the tokenizer's raw bytes, repaired into UTF-8 */
                size_t raw_len = 0, rep_len;
                vkslm_detokenize(t, want, n_want, 0, 0, NULL, 0, &raw_len);
                char *raw = malloc(raw_len + 1);
                vkslm_detokenize(t, want, n_want, 0, 0, raw, raw_len, &raw_len);
                char *rep = malloc(3 * raw_len + 1);
                rep_len = vkslm_utf8_sanitize(raw, raw_len, rep, 3 * raw_len + 1);
                char *text = model_text(m, want, n_want, &st);
                EXPECT(st == VKSLM_OK && text && strlen(text) == rep_len && memcmp(text, rep, rep_len) == 0,
                       "%s: detokenize of '%.40s' differs", name, s);
                free(text);
                free(raw);
                free(rep);
            }
            free(want);
            free(got);
            free(bos);
            free(plain);
        }
}

static void check_device_calls_refused(vkslm_model *m, const char *name) {
    EXPECT(strcmp(vkslm_model_device_name(m), "") == 0, "%s: device name of a vocab-only model", name);
    EXPECT(vkslm_model_weight_bytes(m) == 0 && vkslm_model_device_bytes(m) == 0 &&
               vkslm_model_device_bytes_in_use(m) == 0 && vkslm_model_validation_messages(m) == 0,
           "%s: device sizes of a vocab-only model are not 0", name);
    vkslm_device_info info;
    EXPECT(vkslm_model_device_info(m, &info) == VKSLM_ERR_INVALID_ARG, "%s: device info not refused", name);
    double gbps = -1;
    EXPECT(vkslm_model_roofline(m, 1 << 20, 1, &gbps, NULL) == VKSLM_ERR_INVALID_ARG, "%s: roofline not refused", name);
    vkslm_session *s = (vkslm_session *)1;
    vkslm_status st = vkslm_session_create(m, NULL, &s);
    EXPECT(st == VKSLM_ERR_INVALID_ARG && s == NULL && strstr(vkslm_last_error(), "vocabulary-only"),
           "%s: session_create: %s: %s", name, vkslm_status_str(st), vkslm_last_error());
    vkslm_scheduler *sch = (vkslm_scheduler *)1;
    st = vkslm_scheduler_create(m, NULL, &sch);
    EXPECT(st == VKSLM_ERR_INVALID_ARG && sch == NULL, "%s: scheduler_create: %s", name, vkslm_status_str(st));
    /* a vocab-only model has no device to share */
    vkslm_model_params mp = vkslm_model_default_params();
    mp.share_device = m;
    vkslm_model *other = (vkslm_model *)1;
    char path[1024];
    st = vkslm_model_load(test_data_path(path, sizeof path, "models/stories260K.gguf"), &mp, &other);
    EXPECT(st == VKSLM_ERR_INVALID_ARG && other == NULL, "%s: share_device of a vocab-only model: %s", name,
           vkslm_status_str(st));
}

static void test_vocabularies(void) {
    TEST_REQUIRE_DATA();
    n_fail = 0;
    static const char sep[] = "\n__ggml_vocab_test__\n";
    for (size_t v = 0; v < sizeof vocabs / sizeof *vocabs; v++) {
        char rel[256], path[1024];
        snprintf(rel, sizeof rel, "vocab/ggml-vocab-%s.gguf", vocabs[v]);
        vkslm_tokenizer *t = tok_load(rel);
        vkslm_model *m = load_vocab_only(test_data_path(path, sizeof path, rel));
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        EXPECT(vkslm_model_n_vocab(m) == vkslm_tokenizer_n_vocab(t), "%s: n_vocab", vocabs[v]);
        int cases = 0;
        size_t in_len, out_len;
        char *inp = tok_read_file(strcat(test_data_path(path, sizeof path, rel), ".inp"), &in_len);
        char *out = tok_read_file(strcat(test_data_path(path, sizeof path, rel), ".out"), &out_len);
        char *in_at = inp, *out_at = out;
        for (char *end; inp && out && (end = strstr(in_at, sep)) != NULL; in_at = end + sizeof sep - 1, cases++) {
            size_t len = (size_t)(end - in_at);
            check_against_tokenizer(m, t, vocabs[v], in_at, len);
            /* llama.cpp's ids (no BOS, control tokens not parsed) */
            char *eol = strchr(out_at, '\n');
            CU_ASSERT_PTR_NOT_NULL_FATAL(eol);
            int32_t want[4096];
            size_t n_want = 0;
            for (char *p = out_at, *q; n_want < 4096 && p < eol; p = q) {
                long id = strtol(p, &q, 10);
                if (q == p)
                    break;
                want[n_want++] = (int32_t)id;
            }
            out_at = eol + 1;
            size_t n = 0;
            vkslm_status st;
            int32_t *got = model_tokens(m, in_at, len, 0, 0, false, &n, &st);
            EXPECT(got && n == n_want && memcmp(got, want, n * sizeof *got) == 0, "%s case %d: not llama.cpp's ids",
                   vocabs[v], cases + 1);
            free(got);
        }
        for (size_t k = 0; k < sizeof extra / sizeof *extra; k++)
            check_against_tokenizer(m, t, vocabs[v], extra[k], strlen(extra[k]));
        for (int32_t id = 0; id < vkslm_tokenizer_n_vocab(t); id++) { /* every piece and end-of-generation flag */
            for (int special = 0; special < 2; special++) {
                size_t la, lb;
                const char *a = vkslm_token_to_piece(t, id, special, &la);
                const char *b = vkslm_model_token_piece(m, id, special, &lb);
                if (!b || la != lb || memcmp(a, b, la) != 0) {
                    EXPECT(0, "%s: piece of %d (special %d) differs", vocabs[v], id, special);
                    break;
                }
            }
            if (vkslm_model_token_is_eog(m, id) != (vkslm_token_is_eog(t, id) != 0))
                EXPECT(0, "%s: eog of %d differs", vocabs[v], id);
        }
        size_t len = 1;
        EXPECT(vkslm_model_token_piece(m, -1, true, &len) == NULL && len == 0 &&
                   vkslm_model_token_piece(m, vkslm_model_n_vocab(m), true, &len) == NULL,
               "%s: pieces of ids outside the vocabulary", vocabs[v]);
        if (v == 0)
            check_device_calls_refused(m, vocabs[v]);
        printf("\n  %-15s vocab-only = tokenizer on %d cases + %zu texts, %d pieces", vocabs[v], cases,
               sizeof extra / sizeof *extra, vkslm_model_n_vocab(m));
        free(inp);
        free(out);
        vkslm_model_free(m);
        vkslm_tokenizer_free(t);
    }
    printf("\n");
    CU_ASSERT_EQUAL(n_fail, 0);
}

/* ---- every test model: vocab-only against a full load -------------------------------------------------- */
static void compare_tokens(const vkslm_model *full, const vkslm_model *voc, const char *name, const char *s,
                           size_t len) {
    for (int mode = 0; mode < 2; mode++)
        for (int add = -1; add <= 1; add++)
            for (int parse = 0; parse < 2; parse++) {
                if (mode == 1 && add < 0)
                    continue;
                size_t na = 0, nb = 0;
                vkslm_status sa, sb;
                int32_t *a = model_tokens(full, s, len, mode, add, parse, &na, &sa);
                int32_t *b = model_tokens(voc, s, len, mode, add, parse, &nb, &sb);
                EXPECT(sa == sb && na == nb && (!a || memcmp(a, b, na * sizeof *a) == 0),
                       "%s: tokenize (mode %d, add %d, parse %d) of '%.40s' differs", name, mode, add, parse, s);
                if (a && b) {
                    char *ta = model_text(full, a, na, &sa), *tb = model_text(voc, b, nb, &sb);
                    EXPECT(sa == sb && ta && tb && strcmp(ta, tb) == 0, "%s: detokenize of '%.40s' differs", name, s);
                    free(ta);
                    free(tb);
                }
                free(a);
                free(b);
            }
}

static void compare_chat(const vkslm_model *full, const vkslm_model *voc, const char *name) {
    static const vkslm_chat_message msgs[] = {{"system", "You are terse."},
                                              {"user", "Hi <|im_start|> there"},
                                              {"assistant", "Hello."},
                                              {"user", "caf\xc3\xa9?"}};
    const char *templates[] = {NULL, "chatml", "llama3"};
    for (size_t k = 0; k < 3; k++) {
        if (!templates[k] && !vkslm_model_chat_template(full, NULL))
            continue;
        for (size_t first = 0; first < 2; first++) { /* with and without the system message */
            char a[8192], b[8192];
            size_t la = 0, lb = 0;
            vkslm_status sa = vkslm_chat_apply_template(full, templates[k], msgs + first, 4 - first, true, a, sizeof a, &la);
            vkslm_status sb = vkslm_chat_apply_template(voc, templates[k], msgs + first, 4 - first, true, b, sizeof b, &lb);
            EXPECT(sa == sb && la == lb && (sa != VKSLM_OK || memcmp(a, b, la) == 0), "%s: chat template %s differs",
                   name, templates[k] ? templates[k] : "(own)");
            int32_t ia[4096], ib[4096];
            sa = vkslm_chat_tokenize(full, templates[k], msgs + first, 4 - first, true, false, ia, 4096, &la);
            sb = vkslm_chat_tokenize(voc, templates[k], msgs + first, 4 - first, true, false, ib, 4096, &lb);
            EXPECT(sa == sb && la == lb && (sa != VKSLM_OK || memcmp(ia, ib, la * sizeof *ia) == 0),
                   "%s: chat tokens %s differ", name, templates[k] ? templates[k] : "(own)");
        }
    }
}

static void test_models(void) {
    TEST_REQUIRE_DATA();
    n_fail = 0;
    char path[1024];
    size_t in_len = 0;
    char *inp = tok_read_file(test_data_path(path, sizeof path, "vocab/ggml-vocab-llama-bpe.gguf.inp"), &in_len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(inp);
    for (size_t k = 0; k < sizeof models / sizeof *models; k++) {
        char rel[256];
        snprintf(rel, sizeof rel, "models/%s.gguf", models[k]);
        test_data_path(path, sizeof path, rel);
        vkslm_model *full = NULL, *voc = load_vocab_only(path);
        vkslm_status st = vkslm_model_load(path, NULL, &full);
        if (st == VKSLM_ERR_NO_VULKAN || st == VKSLM_ERR_NO_DEVICE) {
            vkslm_model_free(voc);
            free(inp);
            test_skip("no Vulkan device: the full loads to compare with cannot be made");
            return;
        }
        CU_ASSERT_EQUAL_FATAL(st, VKSLM_OK);
        CU_ASSERT_PTR_NOT_NULL_FATAL(voc);
        EXPECT(strcmp(vkslm_model_arch(full), vkslm_model_arch(voc)) == 0, "%s: arch %s vs %s", models[k],
               vkslm_model_arch(full), vkslm_model_arch(voc));
        EXPECT(vkslm_model_n_vocab(full) == vkslm_model_n_vocab(voc) &&
                   vkslm_model_n_ctx_train(full) == vkslm_model_n_ctx_train(voc) &&
                   vkslm_model_default_n_ctx(full) == vkslm_model_default_n_ctx(voc),
               "%s: n_vocab / n_ctx_train / default_n_ctx differ", models[k]);
        size_t la = 0, lb = 0;
        const char *ta = vkslm_model_chat_template(full, &la), *tb = vkslm_model_chat_template(voc, &lb);
        EXPECT(!ta == !tb && la == lb && (!ta || memcmp(ta, tb, la) == 0), "%s: chat template differs", models[k]);
        static const char sep[] = "\n__ggml_vocab_test__\n";
        int cases = 0;
        for (char *at = inp, *end; (end = strstr(at, sep)) != NULL; at = end + sizeof sep - 1, cases++)
            compare_tokens(full, voc, models[k], at, (size_t)(end - at));
        for (size_t e = 0; e < sizeof extra / sizeof *extra; e++)
            compare_tokens(full, voc, models[k], extra[e], strlen(extra[e]));
        for (int32_t id = 0; id < vkslm_model_n_vocab(full); id++) {
            size_t na, nb;
            const char *pa = vkslm_model_token_piece(full, id, true, &na), *pb = vkslm_model_token_piece(voc, id, true, &nb);
            if (!pa || !pb || na != nb || memcmp(pa, pb, na) != 0 ||
                vkslm_model_token_is_eog(full, id) != vkslm_model_token_is_eog(voc, id)) {
                EXPECT(0, "%s: token %d differs", models[k], id);
                break;
            }
        }
        compare_chat(full, voc, models[k]);
        check_device_calls_refused(voc, models[k]);
        printf("\n  %-26s vocab-only = full load on %d + %zu texts, %d tokens, chat templates", models[k], cases,
               sizeof extra / sizeof *extra, vkslm_model_n_vocab(full));
        vkslm_model_free(voc);
        vkslm_model_free(full);
    }
    printf("\n");
    free(inp);
    CU_ASSERT_EQUAL(n_fail, 0);
}

/* ---- no Vulkan driver at all ----------------------------------------------------------------------------- */
#define NO_VULKAN_ENV "VK_ICD_FILENAMES=/nonexistent VK_DRIVER_FILES=/nonexistent"
#define PROMPT "Hello world, caf\xc3\xa9!"

/* The child: returns the exit code (0 when every check held). */
static int no_vulkan_child(void) {
    char path[1024];
    if (!test_data_dir())
        return 0;
    test_data_path(path, sizeof path, "models/tiny-qwen2-random.gguf");
    vkslm_model *m = NULL;
    vkslm_status st = vkslm_model_load(path, NULL, &m);
    EXPECT(st == VKSLM_ERR_NO_VULKAN || st == VKSLM_ERR_NO_DEVICE, "a full load without Vulkan gave %s: %s",
           vkslm_status_str(st), vkslm_last_error());
    vkslm_model_free(m);
    int n = 0, chosen = 0;
    st = vkslm_devices_list(NULL, 0, &n, &chosen);
    EXPECT(st == VKSLM_ERR_NO_VULKAN || st == VKSLM_ERR_NO_DEVICE, "devices_list without Vulkan gave %s",
           vkslm_status_str(st));
    m = load_vocab_only(path);
    if (!m)
        return 1;
    int32_t ids[64];
    size_t n_ids = 0;
    st = vkslm_model_tokenize(m, PROMPT, strlen(PROMPT), -1, false, ids, 64, &n_ids);
    char text[256];
    size_t len = 0;
    if (st == VKSLM_OK)
        st = vkslm_model_detokenize(m, ids, n_ids, text, sizeof text, &len);
    EXPECT(st == VKSLM_OK && strcmp(text, PROMPT) == 0, "no Vulkan: round trip gave %s '%s'", vkslm_status_str(st),
           st == VKSLM_OK ? text : vkslm_last_error());
    printf("TOKENS");
    for (size_t i = 0; i < n_ids; i++)
        printf(" %d", ids[i]);
    printf("\n");
    check_device_calls_refused(m, "no Vulkan");
    vkslm_model_free(m);
    return n_fail ? 1 : 0;
}

static char self_path[4096];

static void test_no_vulkan(void) {
    TEST_REQUIRE_DATA();
    char cmd[8192], out[8192];
    snprintf(cmd, sizeof cmd, "env " NO_VULKAN_ENV " " TEST_EXEC_PREFIX "'%s' --no-vulkan-child 2>&1", self_path);
    int rc = test_run_command(cmd, out, sizeof out);
    if (rc != 0)
        fprintf(stderr, "%s", out);
    CU_ASSERT_EQUAL(rc, 0);
    /* the same ids from `vkslm tokenize`, with no Vulkan either */
    char path[1024], cli[8192];
    snprintf(cmd, sizeof cmd, "env " NO_VULKAN_ENV " %s tokenize -m '%s' --ids -p '" PROMPT "' 2>&1", VKSLM_CLI,
             test_data_path(path, sizeof path, "models/tiny-qwen2-random.gguf"));
    rc = test_run_command(cmd, cli, sizeof cli);
    CU_ASSERT_EQUAL(rc, 0);
    char want[8192] = "[", *ids = strstr(out, "TOKENS");
    CU_ASSERT_PTR_NOT_NULL_FATAL(ids);
    for (char *p = ids + strlen("TOKENS"), *q; *p == ' '; p = q) {
        long id = strtol(p, &q, 10);
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%ld", want[1] ? ", " : "", id);
    }
    strcat(want, "]\n");
    if (strcmp(cli, want) != 0)
        fprintf(stderr, "  vkslm tokenize without Vulkan: got '%s', want '%s'\n", cli, want);
    CU_ASSERT_STRING_EQUAL(cli, want);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--no-vulkan-child") == 0)
        return no_vulkan_child();
    ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    if (n > 0)
        self_path[n] = 0;
    static const vkslm_test tests[] = {
        {"every test vocabulary: a vocab-only load tokenizes, detokenizes and gives pieces as the tokenizer of a "
         "full load (and llama.cpp's ids); device calls refused",
         test_vocabularies},
        {"every test model: a vocab-only load equals a full load (tokens, text, pieces, chat, metadata)", test_models},
        {"no Vulkan driver: a full load fails, a vocab-only load and `vkslm tokenize` work", test_no_vulkan},
        {NULL, NULL},
    };
    return test_run_suite("vocabulary-only load", tests);
}
