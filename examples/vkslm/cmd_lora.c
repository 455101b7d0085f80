/* LoRA adapter files: `vkslm mkmodel --lora-of BASE` (a random adapter for a base, for tests and
 * benchmarks) and `vkslm lora-merge` (an adapter baked into a base's weights). docs/cli.md has the details. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "vkslm_gguf.h"

static void usage_synth(FILE *f) {
    fprintf(f, "usage: vkslm mkmodel --lora-of BASE.gguf [--rank R] [--alpha A] [--targets LIST] [--type T]\n"
               "                      [--seed S] -o OUT.gguf\n"
               "  --lora-of BASE   write a random LoRA adapter for this model instead of a model\n"
               "  --rank R         the rank r of every pair (default 8)\n"
               "  --alpha A        adapter.lora.alpha: pairs are scaled by alpha / r (default 16; 0: by 1)\n"
               "  --targets LIST   comma-separated weights to adapt: attn_q, attn_k, attn_v, attn_qkv,\n"
               "                   attn_output, ffn_gate, ffn_up, ffn_down (default: every one the base has)\n"
               "  --type T         F32 (default), F16 or Q8_0 (Q8_0: a rank that is a multiple of 32)\n"
               "  --seed S         random seed (default 1)\n"
               "  -o, --output PATH  the adapter GGUF file to write\n");
}

int cmd_mkmodel_lora(int argc, char **argv) {
    const char *base = NULL, *out = NULL, *v;
    long rank = 8, seed = 1;
    vkslm_lora_synth_params p = vkslm_lora_synth_default_params();
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv[i], "-h") || cli_flag(argv[i], "--help")) {
            usage_synth(stdout);
            return 0;
        } else if ((v = cli_value(argc, argv, &i, "--lora-of")))
            base = v;
        else if ((v = cli_value(argc, argv, &i, "--rank"))) {
            if (!cli_parse_long("mkmodel", "--rank", v, 1, 4096, &rank))
                return 2;
        } else if ((v = cli_value(argc, argv, &i, "--alpha"))) {
            if (!cli_parse_float("mkmodel", "--alpha", v, -1e6f, 1e6f, &p.alpha))
                return 2;
        } else if ((v = cli_value(argc, argv, &i, "--targets")))
            p.targets = v;
        else if ((v = cli_value(argc, argv, &i, "--type"))) {
            int t = vkslm_type_from_name(v);
            if (t != VKSLM_TYPE_F32 && t != VKSLM_TYPE_F16 && t != VKSLM_TYPE_Q8_0) {
                fprintf(stderr, "vkslm mkmodel: --lora-of: --type wants F32, F16 or Q8_0, not '%s'\n", v);
                return 2;
            }
            p.type = (uint32_t)t;
        } else if ((v = cli_value(argc, argv, &i, "--seed"))) {
            if (!cli_parse_long("mkmodel", "--seed", v, 0, 0x7fffffffL, &seed))
                return 2;
        } else if ((v = cli_value(argc, argv, &i, "-o")) || (v = cli_value(argc, argv, &i, "--output")))
            out = v;
        else {
            fprintf(stderr, "vkslm mkmodel: '%s' is not an option of --lora-of\n", argv[i]);
            usage_synth(stderr);
            return 2;
        }
    }
    if (!base || !out) {
        usage_synth(stderr);
        return 2;
    }
    p.rank = (uint32_t)rank;
    p.seed = (uint64_t)seed;
    if (vkslm_lora_synth_write(base, out, &p) != VKSLM_OK) {
        fprintf(stderr, "vkslm mkmodel: %s\n", vkslm_last_error());
        return 1;
    }
    printf("wrote %s: LoRA adapter of rank %u (alpha %g) for %s\n", out, p.rank, p.alpha, base);
    return 0;
}

static void usage_merge(FILE *f) {
    fprintf(f, "usage: vkslm lora-merge BASE.gguf ADAPTER.gguf[:SCALE] -o OUT.gguf\n"
               "Writes BASE with the adapter baked into its weights (W + SCALE * alpha / r * B A, computed in float\n"
               "and re-encoded in each weight's type); SCALE defaults to 1.\n");
}

int cmd_lora_merge(int argc, char **argv) {
    const char *base = NULL, *adapter = NULL, *out = NULL, *v;
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv[i], "-h") || cli_flag(argv[i], "--help")) {
            usage_merge(stdout);
            return 0;
        } else if ((v = cli_value(argc, argv, &i, "-o")) || (v = cli_value(argc, argv, &i, "--output")))
            out = v;
        else if (argv[i][0] != '-' && !base)
            base = argv[i];
        else if (argv[i][0] != '-' && !adapter)
            adapter = argv[i];
        else {
            fprintf(stderr, "vkslm lora-merge: unexpected argument '%s'\n", argv[i]);
            usage_merge(stderr);
            return 2;
        }
    }
    if (!base || !adapter || !out) {
        usage_merge(stderr);
        return 2;
    }
    cli_lora lo = {0};
    if (!cli_lora_parse("lora-merge", adapter, &lo))
        return 2;
    if (vkslm_lora_merge(base, lo.path[0], lo.scale[0], 0, out) != VKSLM_OK) {
        fprintf(stderr, "vkslm lora-merge: %s\n", vkslm_last_error());
        return 1;
    }
    printf("wrote %s: %s with %s merged at scale %g\n", out, base, lo.path[0], lo.scale[0]);
    return 0;
}
