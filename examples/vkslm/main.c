/* vkslm: command-line entry point. `vkslm <command> [options]`; `vkslm help` lists the commands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "vkslm.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"devices", cmd_devices, "list Vulkan devices, their features and limits, and the one vkslm would choose"},
    {"info", cmd_info, "what a GGUF model holds and the memory it needs"},
    {"bench", cmd_bench, "prefill/decode speed, per-op GPU profile and memory roofline fraction"},
    {"run", cmd_run, "generate text from a prompt (streamed, or --json)"},
    {"chat", cmd_chat, "an interactive conversation through the model's chat template"},
    {"score", cmd_score, "top next-token logits at every position of a token sequence"},
    {"perplexity", cmd_perplexity, "perplexity of a text file"},
    {"embed", cmd_embed, "L2-normalised embeddings of texts (pooled final hidden states)"},
    {"serve", cmd_serve, "expert models behind a router and an OpenAI-compatible HTTP API"},
    {"tokenize", cmd_tokenize, "the token ids of a text (-p TEXT or -f FILE)"},
    {"mkmodel", cmd_mkmodel, "write a synthetic GGUF model (seeded random weights) of a named or custom shape"},
    {"quantize", cmd_quantize, "requantize an F32/F16/BF16 GGUF model to another type"},
    {"lora-merge", cmd_lora_merge, "bake a LoRA adapter into a model's weights (one file)"},
    {NULL, NULL, NULL},
};

int cli_flag(const char *arg, const char *name) { return strcmp(arg, name) == 0; }

const char *cli_value(int argc, char **argv, int *i, const char *name) {
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        fprintf(stderr, "vkslm: option %s needs a value\n", name);
        return NULL;
    }
    return argv[++*i];
}

static void usage(FILE *f) {
    fprintf(f, "vkslm %s: inference for small language models on Vulkan\n\nusage: vkslm <command> [options]\n\n",
            vkslm_version());
    for (const command *c = commands; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fprintf(f, "\n`vkslm <command> --help` for its options; docs/cli.md has them all.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (cli_flag(argv[1], "help") || cli_flag(argv[1], "--help") || cli_flag(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    if (cli_flag(argv[1], "--version")) {
        printf("vkslm %s\n", vkslm_version());
        return 0;
    }
    for (const command *c = commands; c->name; c++)
        if (strcmp(argv[1], c->name) == 0)
            return c->run(argc - 1, argv + 1);
    fprintf(stderr, "vkslm: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
