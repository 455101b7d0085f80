/* LoRA adapters on a loaded base model: checked against the base, uploaded beside it (the base is not
 * touched), and applied at run time after each adapted product, y = W x + scale * B (A x), per sequence.
 *
 * The file layout is llama.cpp's (convert_lora_to_gguf.py): general.type "adapter", adapter.type "lora",
 * adapter.lora.alpha, general.architecture the base's, and for a base weight NAME.weight of shape [in, out]
 * the pair NAME.weight.lora_a [in, r] and NAME.weight.lora_b [r, out] (F32, F16 or Q8_0). The scale of a
 * pair is user_scale * alpha / r when alpha != 0, else user_scale.
 *
 * At load the base's q/k/v and gate/up are fused into one product each (engine/model/model.h): an adapter
 * of attn_q (attn_k, attn_v, ffn_gate, ffn_up) adds to its slice of the fused product's output rows; phi3's
 * attn_qkv and ffn_up are fused in the file already and adapters of them add to the whole. */
#ifndef VKSLM_MODEL_LORA_H
#define VKSLM_MODEL_LORA_H

#include "engine/model/graph.h"

/* The weight products of a layer the graph runs (the hook points of vkslm_lora_apply). */
typedef enum vkslm_lora_product {
    VKSLM_LORA_P_QKV, /* fused q|k|v */
    VKSLM_LORA_P_Q,   /* q, k, v when their types kept them apart */
    VKSLM_LORA_P_K,
    VKSLM_LORA_P_V,
    VKSLM_LORA_P_O,
    VKSLM_LORA_P_GATE, /* ffn_gate when not fused into ffn_up */
    VKSLM_LORA_P_UP,   /* ffn_up, or fused gate|up */
    VKSLM_LORA_P_DOWN,
} vkslm_lora_product;

/* The base weights an adapter may adapt, by their GGUF names blk.N.<name>.weight. */
#define VKSLM_LORA_KINDS 8
extern const char *const vkslm_lora_kind_names[VKSLM_LORA_KINDS];

/* One adapted weight of one layer on the device. */
typedef struct vkslm_lora_mat {
    vkslm_tensor a, b;       /* A [in, r], B [r, out] (buf NULL: this weight is not adapted) */
    vkslm_lora_product product;
    uint64_t col;            /* the first output row of the product the pair adds to */
    float mul;               /* alpha / r, or 1 when alpha is 0 */
} vkslm_lora_mat;

typedef struct vkslm_lora_dev {
    const vkslm_model_dev *base; /* borrowed */
    vkslm_vk *vk;
    vkslm_gguf *gguf;            /* owned while loading only (closed once uploaded): NULL after */
    uint64_t id;                 /* unique in the process (never reused): selections compare ids, not pointers */
    float alpha;
    uint32_t max_rank;
    uint32_t n_pairs;
    vkslm_lora_mat *mats;        /* [n_layer][VKSLM_LORA_KINDS] */
    vkslm_buf buf;               /* every A and B, 256-byte aligned */
    uint64_t bytes;              /* device bytes */
} vkslm_lora_dev;

/* The base's GGUF weight of a kind (an index of vkslm_lora_kind_names) in a layer, NULL when it has none. */
vkslm_wt vkslm_lora_base_weight(const vkslm_model_weights *w, uint32_t il, int kind);
/* Checks the adapter g against a base's hyperparameters and weights (the refusals of vkslm_lora_dev_load)
 * and finds its pairs: ta/tb[il * VKSLM_LORA_KINDS + kind] (arrays of n_layer * VKSLM_LORA_KINDS, zeroed by
 * the caller) get the A and B halves, NULL where that weight is not adapted. */
vkslm_status vkslm_lora_check(const vkslm_hparams *hp, const vkslm_model_weights *bw, const vkslm_gguf *g,
                              float *alpha, const vkslm_gguf_tensor **ta, const vkslm_gguf_tensor **tb,
                              uint32_t *n_pairs, uint32_t *max_rank);
/* Checks the adapter in g against the base (refusals name the tensor: VKSLM_ERR_FORMAT for a missing
 * half, a wrong shape or type, not an adapter; VKSLM_ERR_UNSUPPORTED for another architecture or a tensor
 * vkslm does not adapt) and uploads it. Takes ownership of g (closed before returning). */
vkslm_status vkslm_lora_dev_load(vkslm_vk *vk, const vkslm_model_dev *base, vkslm_gguf *g, vkslm_lora_dev **out);
void vkslm_lora_dev_free(vkslm_lora_dev *l);

/* The adapters of one sequence. */
#ifndef VKSLM_LORA_MAX_PER_SEQ
#define VKSLM_LORA_MAX_PER_SEQ 8 /* as include/vkslm.h */
#endif
typedef struct vkslm_lora_sel {
    uint32_t n;
    const vkslm_lora_dev *lora[VKSLM_LORA_MAX_PER_SEQ];
    uint64_t id[VKSLM_LORA_MAX_PER_SEQ]; /* their ids: a cache computed with a freed adapter never matches */
    float scale[VKSLM_LORA_MAX_PER_SEQ];
} vkslm_lora_sel;
/* Whether two selections are the same adapters (by id) at the same scales, in order. */
int vkslm_lora_sel_equal(const vkslm_lora_sel *a, const vkslm_lora_sel *b);

/* A session's scratch for adapter products (allocated on first use, grown on demand). */
typedef struct vkslm_lora_bufs {
    uint32_t max_tokens, max_rank, cap_meta; /* cap_meta: entries of ids (and of scales) */
    vkslm_buf meta;  /* I32 ids [cap_meta], then F32 scales [cap_meta] */
    vkslm_buf xg;    /* F32 [max_tokens][max(n_embd, n_ff, n_head*head_dim)]: gathered inputs */
    vkslm_buf ta;    /* F32 [max_tokens][max_rank]: A x */
    vkslm_buf tb;    /* F32 [max_tokens][the widest product]: B (A x) */
} vkslm_lora_bufs;

/* Room for steps of max_tokens tokens with adapters of rank up to max_rank. */
vkslm_status vkslm_lora_bufs_reserve(vkslm_vk *vk, const vkslm_model_dev *m, vkslm_lora_bufs *b, uint32_t max_tokens,
                                     uint32_t max_rank);
void vkslm_lora_bufs_free(vkslm_vk *vk, vkslm_lora_bufs *b);
uint64_t vkslm_lora_bufs_bytes(const vkslm_lora_bufs *b);

/* The adapters of one step, grouped by adapter: each group lists the rows (and their scales) of the
 * sequences that select it. */
#define VKSLM_LORA_MAX_GROUPS 32
typedef struct vkslm_lora_ctx {
    vkslm_lora_bufs *bufs;
    uint32_t n_groups, n_rows;
    struct {
        const vkslm_lora_dev *lora;
        uint32_t off, n;   /* entries of bufs->meta */
        int all_rows;      /* the group is rows 0 .. n - 1 in order: no gather */
    } g[VKSLM_LORA_MAX_GROUPS];
} vkslm_lora_ctx;

/* Groups st's rows by adapter (b->lora: [b->n_seq] selections, or NULL for none) and records the upload
 * of the groups' rows and scales into b->lora_bufs. */
vkslm_status vkslm_lora_begin(vkslm_cmd *c, const vkslm_step_bufs *b, const vkslm_graph_step *st, vkslm_lora_ctx *ctx);
/* Whether some adapter of the step adapts product p of layer il (a graph that would fuse that product
 * with what comes before it keeps them apart then: the adapter needs the product's input). */
int vkslm_lora_has(const vkslm_lora_ctx *ctx, uint32_t il, vkslm_lora_product p);
/* After the product `p` of layer il (out = W in, all the step's rows): adds every group's adapter products. */
vkslm_status vkslm_lora_apply(vkslm_cmd *c, const vkslm_lora_ctx *ctx, uint32_t il, vkslm_lora_product p,
                              const vkslm_tensor *out, const vkslm_tensor *in);
#endif
