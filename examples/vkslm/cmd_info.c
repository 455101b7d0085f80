/* `vkslm info -m MODEL [--json] [--ctx N]`: what a GGUF file holds (architecture, hyperparameters,
 * tokenizer, tensor table, totals by type) and the device memory its weights plus an F16 KV cache of
 * N tokens need. Works on vocab-only files. docs/cli.md documents the output and every JSON key. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json.h"
#include "vkslm_gguf.h"

typedef struct type_total {
    uint64_t tensors, elements, bytes;
} type_total;

typedef struct info {
    const char *path;
    vkslm_gguf *g;
    vkslm_hparams hp;
    vkslm_str name;           /* general.name, len 0 when absent */
    type_total by_type[VKSLM_TYPE_COUNT];
    uint64_t n_params, weight_bytes;
    uint64_t kv_ctx, kv_bytes; /* kv_bytes 0 when the file has no attention shapes */
    int has_kv;                /* a model with weights and attention shapes: the estimate applies */
    int kv_overflow;
} info;

static void usage(FILE *f) {
    fprintf(f, "usage: vkslm info [-m] MODEL.gguf [--json] [--ctx N]\n"
               "  -m, --model PATH  the GGUF file (or give it as the only positional argument)\n"
               "  --json            one JSON object on stdout (keys in docs/cli.md)\n"
               "  --ctx N           KV-cache length for the memory estimate (default: the model's context length)\n");
}

static int mul_ok(uint64_t *acc, uint64_t v) {
    if (v && *acc > UINT64_MAX / v)
        return 0;
    *acc *= v;
    return 1;
}

/* KV cache in F16: K is n_layer x ctx x n_head_kv x n_embd_head_k halves, V the same with
 * n_embd_head_v; bytes = 2 x n_layer x ctx x n_head_kv x (n_embd_head_k + n_embd_head_v). */
static void kv_estimate(info *in) {
    const vkslm_hparams *hp = &in->hp;
    uint64_t b = 2;
    in->kv_overflow = !(mul_ok(&b, hp->n_layer) && mul_ok(&b, in->kv_ctx) && mul_ok(&b, hp->n_head_kv) &&
                        mul_ok(&b, (uint64_t)hp->n_embd_head_k + hp->n_embd_head_v));
    in->kv_bytes = in->kv_overflow ? 0 : b;
}

static void print_name(FILE *f, vkslm_str s) {
    for (uint64_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        fputc(c < 0x20 || c == 0x7F ? '?' : c, f);
    }
}

static void shape_text(const vkslm_gguf_tensor *t, char *buf, size_t cap) {
    size_t o = 0;
    for (uint32_t d = 0; d < t->n_dims && o < cap; d++)
        o += (size_t)snprintf(buf + o, cap - o, d ? " x %llu" : "%llu", (unsigned long long)t->ne[d]);
}

static const char *type_name(uint32_t type) {
    const vkslm_type_traits *tr = vkslm_type_info(type);
    return tr ? tr->name : "?";
}

static double mib(uint64_t b) { return (double)b / (1024.0 * 1024.0); }

static void print_text(const info *in) {
    const vkslm_hparams *hp = &in->hp;
    const vkslm_gguf *g = in->g;
    printf("file:          %s (%llu bytes, GGUF v%u, alignment %llu, data at byte %llu)\n", in->path,
           (unsigned long long)vkslm_gguf_file_size(g), vkslm_gguf_version(g),
           (unsigned long long)vkslm_gguf_alignment(g), (unsigned long long)vkslm_gguf_data_offset(g));
    if (in->name.len) {
        printf("name:          ");
        print_name(stdout, in->name);
        printf("\n");
    }
    printf("architecture:  ");
    if (hp->arch_name.len) {
        print_name(stdout, hp->arch_name);
        printf(hp->arch != VKSLM_ARCH_UNKNOWN ? "\n" : " (not an architecture vkslm runs)\n");
    } else {
        printf("(none)\n");
    }
    if (hp->has_arch_params) {
        printf("hyperparameters:\n");
        printf("  layers %u, embedding %u, feed-forward %u, context %u\n", hp->n_layer, hp->n_embd, hp->n_ff,
               hp->n_ctx_train);
        printf("  heads %u, kv heads %u, head dim k %u / v %u\n", hp->n_head, hp->n_head_kv, hp->n_embd_head_k,
               hp->n_embd_head_v);
        printf("  rope: base %g, dims %u, scaling %s", hp->rope_freq_base, hp->n_rot,
               vkslm_rope_scaling_name(hp->rope_scaling));
        if (hp->rope_scaling != VKSLM_ROPE_SCALING_NONE) {
            printf(" (");
            if (hp->rope_scaling_factor != 0.0f)
                printf("factor %g, ", hp->rope_scaling_factor);
            printf("original context %u", hp->rope_scaling_orig_ctx);
            if (hp->rope_scaling_attn_factor != 1.0f)
                printf(", attention factor %g", hp->rope_scaling_attn_factor);
            printf(")");
        }
        printf("\n  norm eps: rms %g, layer %g\n", hp->norm_rms_eps, hp->norm_eps);
        if (hp->n_swa || hp->attn_softcap != 0.0f || hp->final_softcap != 0.0f)
            printf("  sliding window %u, attention logit soft-cap %g, final logit soft-cap %g\n", hp->n_swa,
                   hp->attn_softcap, hp->final_softcap);
    } else {
        printf("hyperparameters: (none: vocab-only file)\n");
    }
    printf("tokenizer:     model ");
    if (hp->tok_model.len)
        print_name(stdout, hp->tok_model);
    else
        printf("(none)");
    printf(", pre ");
    if (hp->tok_pre.len)
        print_name(stdout, hp->tok_pre);
    else
        printf("(none)");
    printf(", vocab %u, bos %d, eos %d\n", hp->n_vocab, hp->bos_id, hp->eos_id);
    if (hp->has_chat_template)
        printf("chat template: yes (%llu bytes)\n", (unsigned long long)hp->chat_template_len);
    else
        printf("chat template: no\n");

    uint64_t nt = vkslm_gguf_tensor_count(g);
    printf("\ntensors: %llu\n", (unsigned long long)nt);
    if (nt)
        printf("  %5s  %-40s %-8s %-28s %14s\n", "#", "name", "type", "shape", "bytes");
    for (uint64_t i = 0; i < nt; i++) {
        const vkslm_gguf_tensor *t = vkslm_gguf_tensor_at(g, i);
        char shape[128];
        shape_text(t, shape, sizeof shape);
        printf("  %5llu  ", (unsigned long long)i);
        print_name(stdout, t->name);
        int pad = 40 - (int)(t->name.len > 40 ? 40 : t->name.len);
        printf("%*s %-8s %-28s %14llu\n", pad, "", type_name(t->type), shape, (unsigned long long)t->size);
    }
    if (nt) {
        printf("\ntotals by type:\n");
        for (uint32_t ty = 0; ty < VKSLM_TYPE_COUNT; ty++) {
            const type_total *tt = &in->by_type[ty];
            if (!tt->tensors)
                continue;
            const vkslm_type_traits *tr = vkslm_type_info(ty);
            printf("  %-8s %5llu tensors %14llu elements %14llu bytes%s\n", tr->name,
                   (unsigned long long)tt->tensors, (unsigned long long)tt->elements,
                   (unsigned long long)tt->bytes, tr->supported ? "" : "  (type not supported by vkslm)");
        }
        printf("  %-8s %5llu tensors %14llu elements %14llu bytes\n", "all", (unsigned long long)nt,
               (unsigned long long)in->n_params, (unsigned long long)in->weight_bytes);
    }
    printf("\ndevice memory:\n");
    printf("  %-28s %14llu bytes (%.2f MiB)\n", "weights", (unsigned long long)in->weight_bytes,
           mib(in->weight_bytes));
    if (!in->has_kv) {
        printf("  %-28s (none: %s)\n", "KV cache", hp->has_arch_params ? "no weights" : "no attention hyperparameters");
        return;
    }
    if (in->kv_overflow) {
        printf("  %-28s (overflows 64 bits at %llu tokens)\n", "KV cache", (unsigned long long)in->kv_ctx);
        return;
    }
    char label[64];
    snprintf(label, sizeof label, "KV cache (F16, %llu tokens)", (unsigned long long)in->kv_ctx);
    printf("  %-28s %14llu bytes (%.2f MiB)\n", label, (unsigned long long)in->kv_bytes, mib(in->kv_bytes));
    printf("    = 2 bytes x n_layer %u x ctx %llu x n_head_kv %u x (head_dim_k %u + head_dim_v %u)\n", hp->n_layer,
           (unsigned long long)in->kv_ctx, hp->n_head_kv, hp->n_embd_head_k, hp->n_embd_head_v);
    printf("  %-28s %14llu bytes (%.2f MiB)\n", "total", (unsigned long long)(in->weight_bytes + in->kv_bytes),
           mib(in->weight_bytes + in->kv_bytes));
}

static void json_view(FILE *f, vkslm_str s) {
    if (s.len)
        json_str(f, s.ptr, (size_t)s.len);
    else
        fputs("null", f);
}

static void print_json(const info *in) {
    const vkslm_hparams *hp = &in->hp;
    const vkslm_gguf *g = in->g;
    FILE *f = stdout;
    fputs("{\"file\":", f);
    json_str(f, in->path, strlen(in->path));
    fprintf(f, ",\"file_bytes\":%llu,\"gguf_version\":%u,\"alignment\":%llu,\"data_offset\":%llu",
            (unsigned long long)vkslm_gguf_file_size(g), vkslm_gguf_version(g),
            (unsigned long long)vkslm_gguf_alignment(g), (unsigned long long)vkslm_gguf_data_offset(g));
    fputs(",\"name\":", f);
    json_view(f, in->name);
    fputs(",\"architecture\":", f);
    json_view(f, hp->arch_name);
    fprintf(f, ",\"arch_supported\":%s,\"hparams\":", hp->arch != VKSLM_ARCH_UNKNOWN ? "true" : "false");
    if (hp->has_arch_params) {
        fprintf(f, "{\"n_layer\":%u,\"n_embd\":%u,\"n_ff\":%u,\"n_head\":%u,\"n_head_kv\":%u,"
                   "\"n_embd_head_k\":%u,\"n_embd_head_v\":%u,\"n_ctx_train\":%u,\"n_rot\":%u,\"rope_freq_base\":",
                hp->n_layer, hp->n_embd, hp->n_ff, hp->n_head, hp->n_head_kv, hp->n_embd_head_k, hp->n_embd_head_v,
                hp->n_ctx_train, hp->n_rot);
        json_num(f, hp->rope_freq_base);
        fprintf(f, ",\"rope_scaling\":\"%s\",\"rope_scaling_factor\":", vkslm_rope_scaling_name(hp->rope_scaling));
        json_num(f, hp->rope_scaling_factor);
        fprintf(f, ",\"rope_scaling_orig_ctx\":%u,\"rope_scaling_attn_factor\":", hp->rope_scaling_orig_ctx);
        json_num(f, hp->rope_scaling_attn_factor);
        fputs(",\"norm_rms_eps\":", f);
        json_num(f, hp->norm_rms_eps);
        fputs(",\"norm_eps\":", f);
        json_num(f, hp->norm_eps);
        fprintf(f, ",\"sliding_window\":%u,\"attn_logit_softcap\":", hp->n_swa);
        json_num(f, hp->attn_softcap);
        fputs(",\"final_logit_softcap\":", f);
        json_num(f, hp->final_softcap);
        fputc('}', f);
    } else {
        fputs("null", f);
    }
    fputs(",\"tokenizer\":{\"model\":", f);
    json_view(f, hp->tok_model);
    fputs(",\"pre\":", f);
    json_view(f, hp->tok_pre);
    fprintf(f, ",\"n_vocab\":%u,\"bos_id\":", hp->n_vocab);
    if (hp->bos_id >= 0) fprintf(f, "%d", hp->bos_id); else fputs("null", f);
    fputs(",\"eos_id\":", f);
    if (hp->eos_id >= 0) fprintf(f, "%d", hp->eos_id); else fputs("null", f);
    fprintf(f, ",\"chat_template\":%s,\"chat_template_bytes\":%llu}", hp->has_chat_template ? "true" : "false",
            (unsigned long long)hp->chat_template_len);

    fputs(",\"tensors\":[", f);
    for (uint64_t i = 0; i < vkslm_gguf_tensor_count(g); i++) {
        const vkslm_gguf_tensor *t = vkslm_gguf_tensor_at(g, i);
        fputs(i ? ",{\"name\":" : "{\"name\":", f);
        json_str(f, t->name.ptr, (size_t)t->name.len);
        fprintf(f, ",\"type\":\"%s\",\"shape\":[", type_name(t->type));
        for (uint32_t d = 0; d < t->n_dims; d++)
            fprintf(f, d ? ",%llu" : "%llu", (unsigned long long)t->ne[d]);
        fprintf(f, "],\"elements\":%llu,\"bytes\":%llu,\"offset\":%llu}", (unsigned long long)t->n_elems,
                (unsigned long long)t->size, (unsigned long long)t->offset);
    }
    fputs("],\"types\":[", f);
    int first = 1;
    for (uint32_t ty = 0; ty < VKSLM_TYPE_COUNT; ty++) {
        const type_total *tt = &in->by_type[ty];
        if (!tt->tensors)
            continue;
        const vkslm_type_traits *tr = vkslm_type_info(ty);
        fprintf(f, "%s{\"type\":\"%s\",\"supported\":%s,\"tensors\":%llu,\"elements\":%llu,\"bytes\":%llu}",
                first ? "" : ",", tr->name, tr->supported ? "true" : "false", (unsigned long long)tt->tensors,
                (unsigned long long)tt->elements, (unsigned long long)tt->bytes);
        first = 0;
    }
    fprintf(f, "],\"n_params\":%llu,\"memory\":{\"weights_bytes\":%llu", (unsigned long long)in->n_params,
            (unsigned long long)in->weight_bytes);
    if (in->has_kv && !in->kv_overflow)
        fprintf(f, ",\"kv_ctx\":%llu,\"kv_type\":\"F16\",\"kv_bytes\":%llu,\"total_bytes\":%llu}}\n",
                (unsigned long long)in->kv_ctx, (unsigned long long)in->kv_bytes,
                (unsigned long long)(in->weight_bytes + in->kv_bytes));
    else
        fprintf(f, ",\"kv_ctx\":null,\"kv_type\":\"F16\",\"kv_bytes\":null,\"total_bytes\":%llu}}\n",
                (unsigned long long)in->weight_bytes);
}

int cmd_info(int argc, char **argv) {
    const char *model = NULL, *ctx_arg = NULL, *v;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv[i], "--help") || cli_flag(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (cli_flag(argv[i], "--json")) {
            json = 1;
        } else if ((v = cli_value(argc, argv, &i, "-m")) || (v = cli_value(argc, argv, &i, "--model"))) {
            model = v;
        } else if ((v = cli_value(argc, argv, &i, "--ctx"))) {
            ctx_arg = v;
        } else if (argv[i][0] != '-' && !model) {
            model = argv[i];
        } else {
            fprintf(stderr, "vkslm info: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!model) {
        usage(stderr);
        return 2;
    }
    info in = {.path = model};
    if (ctx_arg) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(ctx_arg, &end, 10);
        if (errno || *end || end == ctx_arg || ctx_arg[0] == '-' || n == 0 || n > UINT32_MAX) {
            fprintf(stderr, "vkslm info: --ctx wants a token count from 1 to %u, got '%s'\n", UINT32_MAX, ctx_arg);
            return 2;
        }
        in.kv_ctx = n;
    }
    if (vkslm_gguf_open_file(model, &in.g) != VKSLM_OK) {
        fprintf(stderr, "vkslm info: %s\n", vkslm_last_error());
        return 1;
    }
    if (vkslm_hparams_load(in.g, &in.hp) != VKSLM_OK) {
        fprintf(stderr, "vkslm info: %s: %s\n", model, vkslm_last_error());
        vkslm_gguf_close(in.g);
        return 1;
    }
    int64_t k = vkslm_gguf_find_key(in.g, "general.name");
    if (k >= 0 && vkslm_gguf_kv_str(in.g, (uint64_t)k, &in.name) != VKSLM_OK)
        in.name = (vkslm_str){NULL, 0};
    for (uint64_t i = 0; i < vkslm_gguf_tensor_count(in.g); i++) {
        const vkslm_gguf_tensor *t = vkslm_gguf_tensor_at(in.g, i);
        type_total *tt = &in.by_type[t->type];
        tt->tensors++;
        tt->elements += t->n_elems; /* each tensor lies inside the file, so these sums cannot overflow */
        tt->bytes += t->size;
        in.n_params += t->n_elems;
        in.weight_bytes += t->size;
    }
    if (!in.kv_ctx)
        in.kv_ctx = in.hp.n_ctx_train;
    in.has_kv = in.hp.has_arch_params && vkslm_gguf_tensor_count(in.g) > 0;
    kv_estimate(&in);
    if (json)
        print_json(&in);
    else
        print_text(&in);
    vkslm_gguf_close(in.g);
    return 0;
}
