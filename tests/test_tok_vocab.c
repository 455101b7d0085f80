/* Tokenizers against the shared test data: every case of vocab/NAME.gguf.inp must give exactly the
 * ids of NAME.gguf.out (no BOS, special tokens not parsed), and every refs/MODEL.PROMPT.txt prompt must give its
 * prompt_tokens (BOS where the vocabulary adds one). */
#include <dirent.h>

#include "tests/tok_util.h"

static const char *const vocabs[] = {"bert-bge",   "deepseek-coder", "deepseek-llm", "falcon", "gpt-2",
                                     "llama-bpe",  "llama-spm",      "mpt",          "phi-3",  "qwen2",
                                     "refact",     "starcoder"};

static void print_ids(const char *label, const int32_t *ids, size_t n) {
    fprintf(stderr, "    %s:", label);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, "\n");
}

/* Runs one vocabulary's cases; returns the number that passed, *total the number of cases. */
static int run_vocab(const char *name, int *total) {
    char rel[256], path[1024];
    snprintf(rel, sizeof rel, "vocab/ggml-vocab-%s.gguf", name);
    vkslm_tokenizer *t = tok_load(rel);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    size_t in_len, out_len;
    char *inp = tok_read_file(strcat(test_data_path(path, sizeof path, rel), ".inp"), &in_len);
    char *out = tok_read_file(strcat(test_data_path(path, sizeof path, rel), ".out"), &out_len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(inp);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    static const char sep[] = "\n__ggml_vocab_test__\n";
    int pass = 0, n_cases = 0;
    char *in_at = inp, *out_at = out;
    for (char *end; (end = strstr(in_at, sep)) != NULL; in_at = end + sizeof sep - 1) {
        char *eol = strchr(out_at, '\n');
        CU_ASSERT_PTR_NOT_NULL_FATAL(eol);
        *eol = '\0';
        int32_t want[4096];
        size_t n_want = 0;
        for (char *p = out_at, *q; n_want < 4096; p = q) {
            long v = strtol(p, &q, 10);
            if (q == p)
                break;
            want[n_want++] = (int32_t)v;
        }
        out_at = eol + 1;
        size_t n_got = 0;
        int32_t *got = tok_run(t, in_at, (size_t)(end - in_at), 0, 0, &n_got);
        n_cases++;
        if (got && n_got == n_want && memcmp(got, want, n_want * sizeof *want) == 0) {
            pass++;
        } else {
            fprintf(stderr, "  %s case %d (%.*s) differs\n", name, n_cases, (int)(end - in_at > 60 ? 60 : end - in_at),
                    in_at);
            print_ids("want", want, n_want);
            if (got)
                print_ids("got ", got, n_got);
        }
        free(got);
    }
    free(inp);
    free(out);
    vkslm_tokenizer_free(t);
    *total = n_cases;
    return pass;
}

static void test_vocab_cases(void) {
    TEST_REQUIRE_DATA();
    int all_pass = 0, all = 0;
    for (size_t v = 0; v < sizeof vocabs / sizeof vocabs[0]; v++) {
        int total = 0, pass = run_vocab(vocabs[v], &total);
        printf("\n  %-15s %d/%d", vocabs[v], pass, total);
        CU_ASSERT(total > 40);
        CU_ASSERT_EQUAL(pass, total);
        all_pass += pass, all += total;
    }
    printf("\n  all vocabularies: %d/%d\n", all_pass, all);
}

/* refs/MODEL.PROMPT.txt: model, prompt, add_bos, prompt_tokens lines (tab-separated). */
static void check_ref(const char *file) {
    char path[1024], rel[512];
    snprintf(rel, sizeof rel, "refs/%s", file);
    size_t len;
    char *txt = tok_read_file(test_data_path(path, sizeof path, rel), &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(txt);
    char *model = NULL, *prompt = NULL, *tokens = NULL;
    int add_bos = -1;
    for (char *line = strtok(txt, "\n"); line; line = strtok(NULL, "\n")) {
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = '\0';
        if (strcmp(line, "model") == 0)
            model = tab + 1;
        else if (strcmp(line, "prompt") == 0)
            prompt = tab + 1;
        else if (strcmp(line, "add_bos") == 0)
            add_bos = atoi(tab + 1);
        else if (strcmp(line, "prompt_tokens") == 0)
            tokens = tab + 1;
    }
    CU_ASSERT_FATAL(model && prompt && tokens && add_bos >= 0);
    snprintf(rel, sizeof rel, "models/%s", model);
    vkslm_tokenizer *t = tok_load(rel);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(vkslm_tokenizer_adds_bos(t), add_bos);
    int32_t want[1024];
    size_t n_want = 0;
    for (char *p = tokens, *q; n_want < 1024; p = q) {
        long v = strtol(p, &q, 10);
        if (q == p)
            break;
        want[n_want++] = (int32_t)v;
    }
    size_t n_got = 0;
    int32_t *got = tok_run(t, prompt, strlen(prompt), 1, 0, &n_got);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    int ok = n_got == n_want && memcmp(got, want, n_want * sizeof *want) == 0;
    CU_ASSERT(ok);
    if (!ok) {
        fprintf(stderr, "  %s differs\n", file);
        print_ids("want", want, n_want);
        print_ids("got ", got, n_got);
    }
    free(got);
    free(txt);
    vkslm_tokenizer_free(t);
}

static void test_refs(void) {
    TEST_REQUIRE_DATA();
    char path[1024];
    DIR *d = opendir(test_data_path(path, sizeof path, "refs"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t l = strlen(e->d_name);
        if (l > 4 && strcmp(e->d_name + l - 4, ".txt") == 0) {
            check_ref(e->d_name);
            n++;
        }
    }
    closedir(d);
    printf("\n  %d reference prompts checked\n", n);
    CU_ASSERT(n >= 40);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"every vocab case gives the ids of its .out", test_vocab_cases},
        {"every refs/MODEL.PROMPT.txt prompt gives its prompt_tokens", test_refs},
        {NULL, NULL},
    };
    return test_run_suite("tokenizer vocab", tests);
}
