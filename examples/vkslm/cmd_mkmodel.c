/* `vkslm mkmodel`: writes a synthetic GGUF model (seeded random weights, complete metadata, a synthetic
 * byte-level BPE tokenizer) of a named or custom shape in any file type. docs/cli.md has the details. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "vkslm_gguf.h"

static void usage(FILE *f) {
    fprintf(f, "usage: vkslm mkmodel (--shape NAME | --arch ARCH --layers N --dim D --ffn F --heads H --kv-heads K\n"
               "                      --vocab V [--head-dim D]) --type T [--seed S] [--ctx N] [--threads N]\n"
               "                     [--rope-scaling linear|yarn|longrope --rope-factor F [--rope-orig-ctx N]]\n"
               "                      -o OUT.gguf\n"
               "  --shape NAME     a published configuration:");
    for (const vkslm_synth_shape *s = vkslm_synth_shapes(); s->name; s++)
        fprintf(f, " %s", s->name);
    fprintf(f, "\n  --arch ARCH      llama, qwen2, phi3, gemma or gemma2 (a custom shape: give all sizes below)\n"
               "  --layers N --dim D --ffn F --heads H --kv-heads K --vocab V   sizes of a custom shape\n"
               "  --head-dim D     per-head width (default dim / heads)\n"
               "  --type T         %s\n"
               "  --seed S         weight seed (default 1); the same seed gives the same weights in every type\n"
               "  --ctx N          context length to record (default: the shape's, 4096 for custom shapes)\n"
               "  --threads N      conversion threads (default: the CPUs)\n"
               "  --rope-scaling S declare rope scaling: linear, yarn, or longrope (phi3; writes the long/short\n"
               "                   factor tensors and the attention factor)\n"
               "  --rope-factor F  the scaling factor (needed with --rope-scaling)\n"
               "  --rope-orig-ctx N  the original context (default: context / factor)\n"
               "  -o, --output PATH  the GGUF file to write\n"
               "  --lora-of BASE   a random LoRA adapter for BASE instead (vkslm mkmodel --lora-of x --help)\n",
            vkslm_ftype_list());
}

static int parse_arch(const char *s, vkslm_arch *out) {
    for (int a = VKSLM_ARCH_LLAMA; a <= VKSLM_ARCH_GEMMA2; a++)
        if (strcmp(s, vkslm_arch_name((vkslm_arch)a)) == 0) {
            *out = (vkslm_arch)a;
            return 1;
        }
    return 0;
}

static bool progress(float fraction, void *user) {
    const char *what = user;
    fprintf(stderr, "\r%s %3.0f%%", what, fraction * 100.0f);
    if (fraction >= 1.0f)
        fprintf(stderr, "\r%*s\r", (int)strlen(what) + 5, "");
    return true;
}

static int parse_scaling(const char *s, vkslm_rope_scaling *out) {
    static const vkslm_rope_scaling all[] = {VKSLM_ROPE_SCALING_LINEAR, VKSLM_ROPE_SCALING_YARN,
                                             VKSLM_ROPE_SCALING_LONGROPE};
    for (int i = 0; i < 3; i++)
        if (strcmp(s, vkslm_rope_scaling_name(all[i])) == 0) {
            *out = all[i];
            return 1;
        }
    return 0;
}

int cmd_mkmodel(int argc, char **argv) {
    const char *shape_name = NULL, *arch_s = NULL, *type_s = NULL, *out = NULL, *scaling_s = NULL, *v;
    float rope_factor = 0.0f;
    long rope_orig_ctx = 0;
    long sizes[7] = {0}, seed = 1, ctx = 0, threads = 0; /* layers dim ffn heads kv-heads vocab head-dim */
    static const char *const size_opts[7] = {"--layers", "--dim", "--ffn", "--heads", "--kv-heads", "--vocab",
                                             "--head-dim"};
    for (int i = 1; i < argc; i++) /* an adapter for a model instead of a model */
        if (!strncmp(argv[i], "--lora-of", 9) && (argv[i][9] == 0 || argv[i][9] == '='))
            return cmd_mkmodel_lora(argc, argv);
    for (int i = 1; i < argc; i++) {
        int matched = 0;
        for (int k = 0; k < 7 && !matched; k++)
            if ((v = cli_value(argc, argv, &i, size_opts[k]))) {
                if (!cli_parse_long("mkmodel", size_opts[k], v, 1, 1 << 20, &sizes[k]))
                    return 2;
                matched = 1;
            }
        if (matched)
            continue;
        if (cli_flag(argv[i], "-h") || cli_flag(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if ((v = cli_value(argc, argv, &i, "--shape"))) {
            shape_name = v;
        } else if ((v = cli_value(argc, argv, &i, "--arch"))) {
            arch_s = v;
        } else if ((v = cli_value(argc, argv, &i, "--type"))) {
            type_s = v;
        } else if ((v = cli_value(argc, argv, &i, "--seed"))) {
            if (!cli_parse_long("mkmodel", "--seed", v, 0, 0x7fffffffL, &seed))
                return 2;
        } else if ((v = cli_value(argc, argv, &i, "--ctx"))) {
            if (!cli_parse_long("mkmodel", "--ctx", v, 1, 1 << 24, &ctx))
                return 2;
        } else if ((v = cli_value(argc, argv, &i, "--threads"))) {
            if (!cli_parse_long("mkmodel", "--threads", v, 1, 64, &threads))
                return 2;
        } else if ((v = cli_value(argc, argv, &i, "--rope-scaling"))) {
            scaling_s = v;
        } else if ((v = cli_value(argc, argv, &i, "--rope-factor"))) {
            if (!cli_parse_float("mkmodel", "--rope-factor", v, 1e-3f, 1e6f, &rope_factor))
                return 2;
        } else if ((v = cli_value(argc, argv, &i, "--rope-orig-ctx"))) {
            if (!cli_parse_long("mkmodel", "--rope-orig-ctx", v, 1, 1 << 24, &rope_orig_ctx))
                return 2;
        } else if ((v = cli_value(argc, argv, &i, "-o")) || (v = cli_value(argc, argv, &i, "--output"))) {
            out = v;
        } else {
            fprintf(stderr, "vkslm mkmodel: unknown or incomplete option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    vkslm_synth_params p = {0};
    if (!out || !type_s || (!shape_name == !arch_s)) {
        fprintf(stderr, "vkslm mkmodel: need -o OUT, --type T and exactly one of --shape NAME or --arch ARCH\n");
        usage(stderr);
        return 2;
    }
    if (!vkslm_ftype_from_name(type_s, &p.ftype)) {
        fprintf(stderr, "vkslm mkmodel: unknown type '%s' (one of %s)\n", type_s, vkslm_ftype_list());
        return 2;
    }
    if (shape_name) {
        const vkslm_synth_shape *s = vkslm_synth_shape_find(shape_name);
        if (!s) {
            fprintf(stderr, "vkslm mkmodel: unknown shape '%s' (vkslm mkmodel --help lists them)\n", shape_name);
            return 2;
        }
        for (int k = 0; k < 7; k++)
            if (sizes[k]) {
                fprintf(stderr, "vkslm mkmodel: %s does not go with --shape\n", size_opts[k]);
                return 2;
            }
        p.shape = *s;
    } else {
        vkslm_arch arch;
        if (!parse_arch(arch_s, &arch)) {
            fprintf(stderr, "vkslm mkmodel: unknown arch '%s' (llama, qwen2, phi3, gemma, gemma2)\n", arch_s);
            return 2;
        }
        for (int k = 0; k < 6; k++)
            if (!sizes[k]) {
                fprintf(stderr, "vkslm mkmodel: a custom shape needs %s\n", size_opts[k]);
                return 2;
            }
        p.shape = vkslm_synth_shape_defaults(arch);
        p.shape.n_layer = (uint32_t)sizes[0];
        p.shape.n_embd = (uint32_t)sizes[1];
        p.shape.n_ff = (uint32_t)sizes[2];
        p.shape.n_head = (uint32_t)sizes[3];
        p.shape.n_head_kv = (uint32_t)sizes[4];
        p.shape.n_vocab = (uint32_t)sizes[5];
        p.shape.head_dim = (uint32_t)sizes[6];
    }
    if (ctx)
        p.shape.n_ctx = (uint32_t)ctx;
    if (scaling_s) {
        if (!parse_scaling(scaling_s, &p.shape.rope_scaling.type)) {
            fprintf(stderr, "vkslm mkmodel: unknown --rope-scaling '%s' (linear, yarn, longrope)\n", scaling_s);
            return 2;
        }
        if (rope_factor == 0.0f) {
            fprintf(stderr, "vkslm mkmodel: --rope-scaling needs --rope-factor\n");
            return 2;
        }
        p.shape.rope_scaling.factor = rope_factor;
        p.shape.rope_scaling.orig_ctx = (uint32_t)rope_orig_ctx;
    } else if (rope_factor != 0.0f || rope_orig_ctx) {
        fprintf(stderr, "vkslm mkmodel: --rope-factor and --rope-orig-ctx go with --rope-scaling\n");
        return 2;
    }
    p.seed = (uint64_t)seed;
    p.n_threads = (int)threads;
    if (isatty(STDERR_FILENO)) {
        p.progress = progress;
        p.user = "writing";
    }
    double t0 = cli_now_ms();
    if (vkslm_synth_write(out, &p) != VKSLM_OK) {
        fprintf(stderr, "vkslm mkmodel: %s\n", vkslm_last_error());
        return 1;
    }
    double secs = (cli_now_ms() - t0) / 1e3;
    fprintf(stderr, "vkslm mkmodel: wrote %s (%s %s, %.1fM parameters, seed %ld) in %.2f s\n", out,
            p.shape.name ? p.shape.name : vkslm_arch_name(p.shape.arch), vkslm_ftype_name(p.ftype),
            (double)vkslm_synth_n_params(&p.shape) / 1e6, seed, secs);
    return 0;
}
