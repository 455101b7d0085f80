/* Attention (shaders/attention.comp and shaders/attention_combine.comp): chooses the rows per workgroup from the
 * shared memory limit, the key splits from the work available, the device and the scratch given, and cuts
 * the K/V, q/out and scratch bindings to the bindable storage range; each piece is recorded through
 * vkslm_op_record. */
#include <math.h>
#include <string.h>

#include "engine/ops/attention.h"
#include "engine/ops/matmul.h"
#include "engine/ops/op.h"

#define GRAIN 64u       /* key splits are multiples of this many keys (and in the shaders) */
#define R_MAX 16u       /* rows per workgroup at most (R_MAX in shaders/attention.comp) */
#define TARGET_WG 128u  /* split the keys until about this many workgroups run */
#define MIN_SPLIT_KEYS 128u /* (and in the shaders) */
#define COMBINE_WG 64u
#define LANE_R_MAX 8u   /* rows per workgroup up to which CPU devices run attention_lane.comp */
/* rows per prefill tile there: 4 against 16 (attention.comp's), 128 tokens of smollm2-135m at position 511:
 * 36.7 -> 18.5 ms CPU per layer on lavapipe (8: 24.6, 2: 20.6) */
#define LANE_R_PREFILL 4u
/* head_dim up to which it runs there (smollm2, qwen2.5, llama 3.2: 64; phi3: 96): a lane holds o of all its rows
 * in registers, unrolled, and the compile time grows with it (lavapipe, under load: 64 about 2 s a pipeline,
 * 128 about 8 s, 256 about 24 s) */
#define LANE_D_MAX 96u
/* attention.comp's o per lane (rows x groups of 4 a lane owns) at most: tiles get fewer rows beyond it, so that
 * small subgroups and long heads neither spill nor compile for long */
#define O_REGS_MAX 32u
/* On a CPU device the query rows of a step (n_head x tokens) already outnumber its cores once there are
 * this many, and a split's combine pass costs a dispatch per layer: keys split there only when the range
 * forces it. */
#define CPU_SPLIT_MAX_ROWS 8u
#define AT(field) VKSLM_OP_PUSH(vkslm_attn_push, field)
#define COMBINE_AT(field) VKSLM_OP_PUSH(vkslm_attn_combine_push, field)

typedef struct attn_ctx {
    vkslm_cmd *c;
    vkslm_vk *vk;
    const vkslm_tensor *out, *q, *k, *v, *scratch;
    uint32_t D, n_head, n_head_kv, group, n_ctx, window, es, p16;
    int texel;            /* K and V bound as texel buffers (CPU devices with texel-buffer bindings) */
    float scale, softcap;
    int parallel_split;   /* split keys to keep the device busy (not only where the range forces it) */
    int one_split;        /* plan_seqs: never split a token's keys (the output is written directly) */
    double bytes, flops;  /* the call's cost, given with its first dispatch */
    uint32_t r_cap;       /* rows per workgroup the shared memory allows */
    uint32_t wg, nsg, sgmax, one_sg; /* workgroup size, subgroups in it at most, lanes at most */
    uint32_t dpl;         /* groups of 4 head dimensions a lane owns at most (fewest lanes a subgroup has) */
} attn_ctx;

static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

uint64_t vkslm_attn_scratch_bytes(uint32_t n_tokens, uint32_t n_head, uint32_t head_dim, uint32_t max_split) {
    return (uint64_t)n_tokens * n_head * (head_dim + 2u) * 4u * max_split;
}

/* K/V bytes of kv heads [h0, h1) and keys [c0, c1) ([kv_head][pos][head_dim]). */
static uint64_t kv_span(const attn_ctx *a, uint32_t h0, uint32_t h1, uint32_t c0, uint32_t c1) {
    uint64_t hs = (uint64_t)a->n_ctx * a->D;
    return ((uint64_t)(h1 - 1 - h0) * hs + (uint64_t)(c1 - 1 - c0) * a->D + a->D) * a->es;
}

typedef struct attn_chunk {
    uint64_t q_byte, out_byte; /* byte offsets of the chunk's first token in q and out */
    uint32_t n_tokens, p0, n_rows, R, tiles;
    uint32_t key_lo, kv_end, chunk, n_split;
    uint64_t row_elems;        /* scratch elements of one (kv head, split): n_rows * (D + 2) */
} attn_chunk;

/* Does the piece (kv heads [h0, h1), splits [s0, s1)) bind within the range? */
/* Does one binding hold `bytes`? */
static int fits(const attn_ctx *a, uint64_t bytes) { return vkslm_op_fit(a->vk, 0, bytes) != 0; }

static int piece_fits(const attn_ctx *a, const attn_chunk *ch, uint32_t h0, uint32_t h1, uint32_t s0, uint32_t s1) {
    uint32_t c0 = ch->key_lo + s0 * ch->chunk;
    uint32_t c1 = ch->key_lo + s1 * ch->chunk;
    if (c1 > ch->kv_end)
        c1 = ch->kv_end;
    if (!fits(a, kv_span(a, h0, h1, c0, c1)))
        return 0;
    if (ch->n_split > 1) {
        uint64_t first = ((uint64_t)h0 * ch->n_split + s0) * ch->row_elems;
        uint64_t end = ((uint64_t)(h1 - 1) * ch->n_split + s1) * ch->row_elems;
        if (!fits(a, (end - first) * 4u))
            return 0;
    }
    return 1;
}

/* The dispatch of kv heads [h0, h1) and key splits [s0, s1) of a chunk. */
static vkslm_status record_piece(attn_ctx *a, const attn_chunk *ch, vkslm_shader_id shader, const uint32_t *spec,
                                 uint32_t h0, uint32_t h1, uint32_t s0, uint32_t s1) {
    uint32_t c0 = ch->key_lo + s0 * ch->chunk;
    uint32_t c1 = ch->key_lo + s1 * ch->chunk;
    if (c1 > ch->kv_end)
        c1 = ch->kv_end;
    uint64_t hs = (uint64_t)a->n_ctx * a->D;
    uint64_t kv_first = ((uint64_t)h0 * hs + (uint64_t)c0 * a->D) * a->es, kv_bytes = kv_span(a, h0, h1, c0, c1);
    uint64_t qo_bytes = (uint64_t)ch->n_tokens * a->n_head * a->D * 4u;
    uint64_t first = ((uint64_t)h0 * ch->n_split + s0) * ch->row_elems; /* of the scratch */
    uint64_t end = ((uint64_t)(h1 - 1) * ch->n_split + s1) * ch->row_elems;
    vkslm_attn_push pc = {
        .n_rows = ch->n_rows, .group = a->group, .n_head = a->n_head, .p0 = ch->p0, .kv_end = ch->kv_end,
        .key_lo = ch->key_lo, .window = a->window, .chunk = ch->chunk, .n_split = ch->n_split, .split_base = s0,
        .head_base = h0, .key_base = c0, .head_stride = (uint32_t)(hs / 4u), .pos_stride = a->D / 4u,
        .direct = ch->n_split == 1, .scale = a->scale, .softcap = a->softcap,
    };
    int direct = ch->n_split == 1;
    /* q, k and v are read as groups of 4 elements; their offsets are multiples of a group (checked) */
    vkslm_op op = {
        .name = "attention", .shader = shader, .spec = spec, .n_spec = 6, .push = &pc, .push_size = sizeof pc,
        .grid = {{.per = s1 - s0}, {.per = ch->tiles}, {.per = h1 - h0}},
        .arg = {
            {"q", a->q, .unit = 16, .off_at = AT(q_off), .at = ch->q_byte, .size = qo_bytes},
            {"k", a->k, .unit = 4 * a->es, .off_at = AT(k_off), .at = kv_first, .size = kv_bytes, .texel = a->texel},
            {"v", a->v, .unit = 4 * a->es, .off_at = AT(v_off), .at = kv_first, .size = kv_bytes, .texel = a->texel},
            {direct ? "out" : "scratch", direct ? a->out : a->scratch, .write = 1, .off_at = AT(dst_off),
             .at = direct ? ch->out_byte : first * 4u, .size = direct ? qo_bytes : (end - first) * 4u},
            /* one sequence: positions follow p0 (bindings 4 and 5 stand in, unread) */
            {"positions", NULL, .optional = 1},
            {"sequences", NULL, .optional = 1},
        },
        .bytes = a->bytes, .flops = a->flops,
    };
    a->bytes = a->flops = 0;
    return vkslm_op_record(a->c, &op);
}

/* Merges the splits of a chunk into out, kv heads as many at a time as one binding holds. */
static vkslm_status record_combine(const attn_ctx *a, const attn_chunk *ch) {
    const uint32_t spec[2] = {COMBINE_WG, a->D};
    uint64_t per_head = (uint64_t)ch->n_split * ch->row_elems * 4u;
    uint32_t heads = fits(a, per_head * a->n_head_kv) ? a->n_head_kv : 1u;
    uint64_t out_bytes = (uint64_t)ch->n_tokens * a->n_head * a->D * 4u;
    for (uint32_t h0 = 0; h0 < a->n_head_kv; h0 += heads) {
        vkslm_attn_combine_push pc = {
            .n_rows = ch->n_rows, .group = a->group, .n_head = a->n_head, .n_split = ch->n_split, .head_base = h0,
        };
        vkslm_op op = {
            .name = "attention combine", .shader = VKSLM_SHADER_ATTENTION_COMBINE, .spec = spec, .n_spec = 2,
            .push = &pc, .push_size = sizeof pc,
            .grid = {{.per = ch->n_rows}, {0}, {.per = heads}},
            .arg = {
                {"scratch", a->scratch, .off_at = COMBINE_AT(src_off), .at = h0 * per_head, .size = heads * per_head},
                {"out", a->out, .write = 1, .off_at = COMBINE_AT(out_off), .at = ch->out_byte, .size = out_bytes},
            },
        };
        VKSLM_TRY(vkslm_op_record(a->c, &op));
    }
    return VKSLM_OK;
}

static vkslm_shader_id shader_of(const attn_ctx *a, uint32_t R);
/* Does the device run attention_lane.comp (for tiles of up to LANE_R_MAX rows)? */
static int lane_kernel(const attn_ctx *a) { return a->texel && a->one_sg && a->D <= LANE_D_MAX; }

/* Rows per tile for a call of n_rows rows: with a key per lane a few (exactly n_rows when fewer: every
 * row of a tile computes, present or not), else the most the shared memory holds, halved while a tile
 * would be more than half empty. */
static uint32_t tile_rows(const attn_ctx *a, uint32_t n_rows) {
    if (lane_kernel(a))
        return n_rows < LANE_R_PREFILL ? (n_rows ? n_rows : 1u) : LANE_R_PREFILL;
    uint32_t R = a->r_cap;
    while (R > 1 && R / 2u >= n_rows)
        R /= 2u;
    return R;
}

static uint32_t pow2_floor(uint32_t x) {
    uint32_t p = 1;
    while (p * 2u <= x)
        p *= 2u;
    return p;
}

/* Plans and records tokens [t0, t0 + n_tokens) of the call. */
static vkslm_status record_chunk(attn_ctx *a, uint32_t t0, uint32_t n_tokens, uint32_t p0) {
    attn_chunk ch = {0};
    ch.q_byte = ch.out_byte = (uint64_t)t0 * a->n_head * a->D * 4u;
    ch.n_tokens = n_tokens;
    ch.p0 = p0 + t0;
    ch.n_rows = n_tokens * a->group;
    ch.R = tile_rows(a, ch.n_rows);
    ch.tiles = (uint32_t)ceil_div(ch.n_rows, ch.R);
    ch.kv_end = ch.p0 + n_tokens;
    ch.key_lo = a->window && ch.p0 + 1u > a->window ? ch.p0 + 1u - a->window : 0u;
    ch.row_elems = (uint64_t)ch.n_rows * (a->D + 2u);
    uint32_t span = ch.kv_end - ch.key_lo;

    /* keys one kv head's binding can hold, in whole blocks */
    uint64_t row_bytes = (uint64_t)a->D * a->es;
    uint64_t keys_fit = vkslm_op_fit(a->vk, row_bytes, row_bytes);
    keys_fit -= keys_fit % GRAIN;
    if (keys_fit == 0)
        return vkslm_fail(VKSLM_ERR_LIMIT, "attention: %u keys (head_dim %u) exceed the bindable range", GRAIN,
                          a->D);
    /* splits the scratch allows: all of them in the tensor, one kv head's in one binding */
    uint64_t by_scratch = 0;
    if (a->scratch) {
        by_scratch = vkslm_tensor_nelems(a->scratch) / (ch.row_elems * a->n_head_kv);
        uint64_t by_range = vkslm_op_fit(a->vk, ch.row_elems * 4u, ch.row_elems * 4u);
        if (by_scratch > by_range)
            by_scratch = by_range;
    }
    uint64_t want = a->parallel_split ? ceil_div(TARGET_WG, (uint64_t)ch.tiles * a->n_head_kv) : 1;
    uint64_t by_len = ceil_div(span, MIN_SPLIT_KEYS);
    uint64_t n = want < by_len ? want : by_len;
    if (n > by_scratch)
        n = by_scratch;
    if (n < 1)
        n = 1;
    uint64_t chunk = ceil_div(ceil_div(span, n), GRAIN) * GRAIN;
    if (chunk > keys_fit)
        chunk = keys_fit;
    ch.chunk = (uint32_t)chunk;
    ch.n_split = (uint32_t)ceil_div(span, chunk);
    if (ch.n_split > 1 && ch.n_split > by_scratch)
        return vkslm_fail(VKSLM_ERR_LIMIT,
                          "attention: %u keys need %u splits to fit the bindable range but the scratch allows %llu",
                          span, ch.n_split, (unsigned long long)by_scratch);

    uint32_t spec[6] = {a->wg, a->D, ch.R, a->nsg, a->sgmax, a->dpl};
    vkslm_shader_id shader = shader_of(a, ch.R);

    uint32_t heads = piece_fits(a, &ch, 0, a->n_head_kv, 0, 1) ? a->n_head_kv : 1u;
    for (uint32_t h0 = 0; h0 < a->n_head_kv; h0 += heads) {
        if (!piece_fits(a, &ch, h0, h0 + heads, 0, 1))
            return vkslm_fail(VKSLM_ERR_LIMIT, "attention: one key split does not fit the bindable range");
        for (uint32_t s0 = 0; s0 < ch.n_split;) {
            uint32_t s1 = s0 + 1u;
            while (s1 < ch.n_split && piece_fits(a, &ch, h0, h0 + heads, s0, s1 + 1u))
                s1++;
            VKSLM_TRY(record_piece(a, &ch, shader, spec, h0, h0 + heads, s0, s1));
            s0 = s1;
        }
    }
    if (ch.n_split > 1)
        VKSLM_TRY(record_combine(a, &ch));
    return VKSLM_OK;
}

/* The workgroup's shape on this device: a->wg, nsg, sgmax, one_sg and the rows per workgroup r_cap (for
 * head_dim a->D and n_sg subgroups per workgroup, 0: one). */
static vkslm_status attn_shape(attn_ctx *a, uint32_t n_sg) {
    const vkslm_vk_caps *caps = vkslm_vk_get_caps(a->vk);
    /* one workgroup holds subgroups of the largest size (at least 4 invocations); ONE_SUBGROUP when the
     * device has a single subgroup size, so that the workgroup is exactly one subgroup */
    VKSLM_TRY(vkslm_op_need_subgroups(a->vk, "attention"));
    uint32_t sgmin = caps->subgroup_size_min ? caps->subgroup_size_min : 1u;
    a->sgmax = caps->subgroup_size_max > sgmin ? caps->subgroup_size_max : sgmin;
    if (n_sg == 0)
        n_sg = 1u;
    if (n_sg > 16u)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "attention: %u subgroups per workgroup (16 at most)", n_sg);
    a->wg = (a->sgmax < 4u ? 4u : a->sgmax) * n_sg;
    a->nsg = (a->wg + sgmin - 1u) / sgmin;
    a->dpl = (a->D / 4u + sgmin - 1u) / sgmin;
    a->one_sg = caps->subgroup_size_control && sgmin == a->sgmax && a->wg == a->sgmax;
    /* shared memory per row: q and one o per subgroup (D each), probabilities (sgmax), max and sum */
    uint32_t per_row = 4u * (a->D + a->nsg * (a->D + a->sgmax + 2u));
    uint32_t r = caps->max_shared_memory / per_row;
    a->r_cap = pow2_floor(r < R_MAX ? (r ? r : 1u) : R_MAX);
    while (a->r_cap > 1 && a->r_cap * a->dpl > O_REGS_MAX)
        a->r_cap /= 2u;
    if (caps->max_shared_memory < per_row || caps->max_workgroup_invocations < a->wg ||
        caps->max_workgroup_invocations < COMBINE_WG)
        return vkslm_fail(VKSLM_ERR_LIMIT, "attention: the device's workgroup limits are too small");
    return VKSLM_OK;
}

/* Checks the call's tensors and fills a (for tokens at positions p0 .. p0 + n_tokens - 1, or, with seqs,
 * at the positions that gives). */
static vkslm_status attn_setup(attn_ctx *a, vkslm_cmd *c, const vkslm_tensor *out, const vkslm_tensor *q,
                               const vkslm_tensor *k, const vkslm_tensor *v, const vkslm_tensor *scratch,
                               const vkslm_attn_params *params, const vkslm_attn_seqs *seqs) {
    const char *name = "attention";
    VKSLM_TRY(VKSLM_OP_PRESENT(name, out, q, k, v));
    if (!params)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "attention: params are missing");
    VKSLM_TRY(vkslm_op_check(name, "q", q, VKSLM_OP_F32, vkslm_tensor_nelems(q)));
    VKSLM_TRY(vkslm_op_check(name, "out", out, VKSLM_OP_F32, vkslm_tensor_nelems(out)));
    VKSLM_TRY(vkslm_op_check(name, "k", k, VKSLM_OP_F32 | VKSLM_OP_F16, vkslm_tensor_nelems(k)));
    VKSLM_TRY(vkslm_op_check(name, "v", v, VKSLM_OP_F32 | VKSLM_OP_F16, vkslm_tensor_nelems(v)));
    if (scratch)
        VKSLM_TRY(vkslm_op_check(name, "scratch", scratch, VKSLM_OP_F32, vkslm_tensor_nelems(scratch)));
    uint64_t D = vkslm_dim(q, 0), n_head = vkslm_dim(q, 1), n_tokens = vkslm_dim(q, 2);
    uint64_t n_ctx = vkslm_dim(k, 1), n_head_kv = vkslm_dim(k, 2);
    if (vkslm_dim(q, 3) != 1 || vkslm_dim(out, 0) != D || vkslm_dim(out, 1) != n_head || vkslm_dim(out, 2) != n_tokens ||
        vkslm_dim(out, 3) != 1)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "attention: out must have q's shape {head_dim, n_head, n_tokens}");
    if (vkslm_dim(k, 0) != D || vkslm_dim(k, 3) != 1 || v->type != k->type)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "attention: k must be {head_dim, n_ctx, n_head_kv} with q's head_dim");
    for (int i = 0; i < 4; i++)
        if (vkslm_dim(v, i) != vkslm_dim(k, i))
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "attention: v must have k's type and shape");
    if (D == 0 || D > VKSLM_ATTN_MAX_HEAD_DIM || D % 4u)
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "attention: head_dim %llu is not a multiple of 4 in [4, %u]",
                          (unsigned long long)D, VKSLM_ATTN_MAX_HEAD_DIM);
    const vkslm_tensor *vec4s[3] = {q, k, v};
    for (int i = 0; i < 3; i++) {
        uint64_t group_bytes = 4u * (vec4s[i]->type == VKSLM_TYPE_F16 ? 2u : 4u);
        if ((vec4s[i]->buf->offset + vec4s[i]->offset) % group_bytes)
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "attention: q, k and v must start on a multiple of %llu bytes",
                              (unsigned long long)group_bytes);
    }
    if (n_head % n_head_kv)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "attention: n_head_kv %llu does not divide n_head %llu",
                          (unsigned long long)n_head_kv, (unsigned long long)n_head);
    uint64_t pos_end = seqs ? (uint64_t)seqs->max_pos + 1u : (uint64_t)params->p0 + n_tokens;
    if (pos_end > n_ctx)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "attention: positions up to %llu exceed the cache's %llu",
                          (unsigned long long)pos_end, (unsigned long long)n_ctx);
    if (n_ctx * D > UINT32_MAX || n_head * n_tokens > UINT32_MAX)
        return vkslm_fail(VKSLM_ERR_LIMIT, "attention: a cache of %llu positions is too large",
                          (unsigned long long)n_ctx);
    if (!(params->softcap >= 0.0f) || !(params->scale >= 0.0f) || !isfinite(params->scale) ||
        !isfinite(params->softcap))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "attention: scale and softcap must be finite and not negative");

    memset(a, 0, sizeof *a);
    a->c = c;
    a->vk = vkslm_cmd_vk(c);
    a->out = out;
    a->q = q;
    a->k = k;
    a->v = v;
    a->scratch = scratch;
    a->D = (uint32_t)D;
    a->n_head = (uint32_t)n_head;
    a->n_head_kv = (uint32_t)n_head_kv;
    a->group = (uint32_t)(n_head / n_head_kv);
    a->n_ctx = (uint32_t)n_ctx;
    a->window = params->window;
    a->es = k->type == VKSLM_TYPE_F16 ? 2u : 4u;
    a->p16 = a->es == 2 && !vkslm_vk_get_enabled(a->vk)->storage16;
    a->texel = vkslm_vk_is_cpu(a->vk) && vkslm_vk_get_enabled(a->vk)->texel_buffers;
    a->scale = params->scale > 0.0f ? params->scale : 1.0f / sqrtf((float)D);
    a->softcap = params->softcap;
    a->parallel_split = !vkslm_vk_is_cpu(a->vk) || n_head * n_tokens < CPU_SPLIT_MAX_ROWS;
    /* keys read (the window aside): each token's own with seqs (their mean is unknown here: the most) */
    double n_kv = seqs ? (double)n_tokens * (seqs->max_pos + 1.0) : (double)params->p0 + (double)n_tokens;
    a->bytes = 8.0 * (double)(n_tokens * n_head * D) + 2.0 * n_kv * (double)(n_head_kv * D) * a->es;
    a->flops = 4.0 * (double)((seqs ? 1 : n_tokens) * n_head * D) * n_kv;
    return attn_shape(a, params->subgroups);
}

vkslm_status vkslm_op_attention(vkslm_cmd *c, const vkslm_tensor *out, const vkslm_tensor *q, const vkslm_tensor *k,
                                const vkslm_tensor *v, const vkslm_tensor *scratch, const vkslm_attn_params *params) {
    attn_ctx a;
    VKSLM_TRY(attn_setup(&a, c, out, q, k, v, scratch, params, NULL));
    const vkslm_vk_caps *caps = vkslm_vk_get_caps(a.vk);
    uint64_t n_tokens = vkslm_dim(q, 2);

    /* token chunks: q and out of a chunk fit one binding; rows and tiles fit the workgroup counts */
    uint64_t per_token = (uint64_t)a.n_head * (a.D + 2u) * 4u;
    uint64_t max_tok = vkslm_op_fit(a.vk, per_token, per_token);
    uint64_t by_rows = caps->max_workgroup_count[0] / a.group;
    if (max_tok > by_rows)
        max_tok = by_rows;
    uint64_t by_tiles = (uint64_t)caps->max_workgroup_count[1] * a.r_cap / a.group;
    if (max_tok > by_tiles)
        max_tok = by_tiles;
    if (max_tok == 0)
        return vkslm_fail(VKSLM_ERR_LIMIT, "attention: one token's q does not fit the bindable range");
    for (uint64_t t0 = 0; t0 < n_tokens; t0 += max_tok) {
        uint64_t nt = n_tokens - t0 < max_tok ? n_tokens - t0 : max_tok;
        VKSLM_TRY(record_chunk(&a, (uint32_t)t0, (uint32_t)nt, params->p0));
    }
    return VKSLM_OK;
}

/* The shader of a call whose tiles have R rows: on CPU devices (texel buffers, one subgroup per workgroup)
 * tiles of few rows (decode) take a key per lane (attention_lane.comp); otherwise attention.comp's variant
 * [f32, f16, f16 as packed words, f32 texels, f16 texels][one subgroup per workgroup]. */
static vkslm_shader_id shader_of(const attn_ctx *a, uint32_t R) {
    if (lane_kernel(a) && R <= LANE_R_MAX)
        return a->es == 2 ? VKSLM_SHADER_ATTENTION_LANE_F16 : VKSLM_SHADER_ATTENTION_LANE_F32;
    static const vkslm_shader_id shaders[5][2] = {
        {VKSLM_SHADER_ATTENTION_F32, VKSLM_SHADER_ATTENTION_F32_1SG},
        {VKSLM_SHADER_ATTENTION_F16, VKSLM_SHADER_ATTENTION_F16_1SG},
        {VKSLM_SHADER_ATTENTION_F16_P16, VKSLM_SHADER_ATTENTION_F16_P16_1SG},
        {VKSLM_SHADER_ATTENTION_F32_TEXEL, VKSLM_SHADER_ATTENTION_F32_TEXEL_1SG},
        {VKSLM_SHADER_ATTENTION_F16_TEXEL, VKSLM_SHADER_ATTENTION_F16_TEXEL_1SG},
    };
    return shaders[a->texel ? 3 + (a->es == 2) : a->es == 2 ? 1 + a->p16 : 0][a->one_sg];
}

/* Bytes of the n_seq caches (each of n_head_kv heads of n_ctx x D elements) stride_bytes apart. */
static uint64_t seqs_span(uint32_t n_seq, uint64_t stride_bytes, uint32_t n_head_kv, uint32_t n_ctx, uint32_t D,
                          uint32_t es) {
    return (uint64_t)(n_seq - 1u) * stride_bytes + (uint64_t)n_head_kv * n_ctx * D * es;
}

int vkslm_attn_seqs_ok(vkslm_vk *vk, uint32_t head_dim, uint32_t group, uint32_t n_head_kv, uint32_t n_ctx,
                       uint32_t elem_bytes, uint32_t n_seq, uint64_t stride_bytes) {
    attn_ctx a = {0};
    a.vk = vk;
    a.D = head_dim;
    vkslm_status st = attn_shape(&a, 0);
    if (st != VKSLM_OK) /* a question, not a failure */
        vkslm_clear_error();
    return st == VKSLM_OK && n_seq && group <= a.r_cap && stride_bytes % 16u == 0 &&
           fits(&a, seqs_span(n_seq, stride_bytes, n_head_kv, n_ctx, head_dim, elem_bytes));
}

/* The push constants both kernels of a call with seqs share (vkslm_attn_push, vkslm_attn_qkv_push: the same names) */
#define SEQS_PUSH(a, ch, direct, seqs)                                                                            \
    .n_rows = (ch).n_rows, .group = (a).group, .n_head = (a).n_head, .kv_end = (ch).kv_end, .window = (a).window,  \
    .chunk = (ch).chunk, .n_split = (ch).n_split, .head_stride = (a).n_ctx * (a).D / 4u, .pos_stride = (a).D / 4u, \
    .direct = (uint32_t)(direct), .scale = (a).scale, .softcap = (a).softcap,                                       \
    .seq_stride = (uint32_t)((seqs)->stride / 4u)

/* The plan of a call with seqs (checked, and a set up): one workgroup per (token, kv head, key split), R rows of
 * which the kv head's `group` q heads exist; *span: the bytes of the n_seq sequences' K (or V). */
static vkslm_status plan_seqs(attn_ctx *a, const vkslm_attn_seqs *seqs, uint32_t n_tokens, attn_chunk *ch,
                              uint64_t *span) {
    const char *name = "attention";
    VKSLM_TRY(vkslm_op_check(name, "positions", seqs->pos, VKSLM_OP_I32, n_tokens));
    VKSLM_TRY(vkslm_op_check(name, "sequences", seqs->seq, VKSLM_OP_I32, n_tokens));
    uint64_t stride_bytes = seqs->stride * a->es;
    *span = seqs_span(seqs->n_seq, stride_bytes, a->n_head_kv, a->n_ctx, a->D, a->es);
    if (stride_bytes % 16u || seqs->stride / 4u > UINT32_MAX || a->group > a->r_cap || !fits(a, *span))
        return vkslm_fail(VKSLM_ERR_LIMIT, "attention: %u sequences' caches (%llu bytes) or %u q heads per kv head "
                                           "do not fit one dispatch",
                          seqs->n_seq, (unsigned long long)*span, a->group);
    const vkslm_vk_caps *caps = vkslm_vk_get_caps(a->vk);
    uint64_t qo_bytes = (uint64_t)n_tokens * a->n_head * a->D * 4u;
    if (!fits(a, qo_bytes) || n_tokens > caps->max_workgroup_count[1])
        return vkslm_fail(VKSLM_ERR_LIMIT, "attention: %u tokens of several sequences do not fit one dispatch",
                          n_tokens);

    memset(ch, 0, sizeof *ch);
    ch->n_tokens = n_tokens;
    ch->n_rows = n_tokens * a->group;
    ch->R = 1;
    while (ch->R < a->group)
        ch->R *= 2u;
    if (lane_kernel(a) && a->group <= LANE_R_MAX) /* a key per lane: no row of the tile idle */
        ch->R = a->group;
    ch->tiles = n_tokens;
    ch->kv_end = a->n_ctx;
    ch->row_elems = (uint64_t)ch->n_rows * (a->D + 2u);
    uint32_t span_keys = seqs->max_pos + 1u;
    if (a->window && span_keys > a->window)
        span_keys = a->window;
    uint64_t by_scratch = 0;
    if (a->scratch) {
        by_scratch = vkslm_tensor_nelems(a->scratch) / (ch->row_elems * a->n_head_kv);
        uint64_t by_range = vkslm_op_fit(a->vk, ch->row_elems * a->n_head_kv * 4u, ch->row_elems * a->n_head_kv * 4u);
        if (by_scratch > by_range)
            by_scratch = by_range;
    }
    /* each token splits its keys as a call for it alone would (the shader finds its chunk from its own span),
     * so that batched and lone decoding agree bit for bit: the most splits a token may take (pc.chunk) is
     * what such a call wants and its scratch allows; the grid holds the longest span's */
    uint32_t R1 = tile_rows(a, a->group);
    int split1 = !a->one_split && (!vkslm_vk_is_cpu(a->vk) || a->n_head < CPU_SPLIT_MAX_ROWS);
    uint64_t most = split1 ? ceil_div(TARGET_WG, ceil_div(a->group, R1) * a->n_head_kv) : 1;
    if (most > by_scratch)
        most = by_scratch;
    if (most < 1)
        most = 1;
    uint64_t by_len = ceil_div(span_keys, MIN_SPLIT_KEYS);
    ch->n_split = (uint32_t)(by_len < most ? by_len : most);
    if (ch->n_split < 1)
        ch->n_split = 1;
    ch->chunk = (uint32_t)most;
    if (ch->n_split > caps->max_workgroup_count[0])
        return vkslm_fail(VKSLM_ERR_LIMIT, "attention: %u key splits", ch->n_split);
    return VKSLM_OK;
}

vkslm_status vkslm_op_attention_seqs(vkslm_cmd *c, const vkslm_tensor *out, const vkslm_tensor *q,
                                     const vkslm_tensor *k, const vkslm_tensor *v, const vkslm_tensor *scratch,
                                     const vkslm_attn_params *params, const vkslm_attn_seqs *seqs) {
    if (!seqs || !seqs->pos || !seqs->seq || seqs->n_seq == 0 || !params || params->p0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "attention: the tokens' positions or sequences are missing");
    attn_ctx a;
    VKSLM_TRY(attn_setup(&a, c, out, q, k, v, scratch, params, seqs));
    const uint32_t n_tokens = (uint32_t)vkslm_dim(q, 2);
    attn_chunk ch;
    uint64_t span;
    VKSLM_TRY(plan_seqs(&a, seqs, n_tokens, &ch, &span));
    int direct = ch.n_split == 1;
    uint64_t qo_bytes = (uint64_t)n_tokens * a.n_head * a.D * 4u;
    uint32_t spec[6] = {a.wg, a.D, ch.R, a.nsg, a.sgmax, a.dpl};
    vkslm_attn_push pc = {SEQS_PUSH(a, ch, direct, seqs), .seqs = 1};
    uint64_t scratch_bytes = (uint64_t)a.n_head_kv * ch.n_split * ch.row_elems * 4u;
    vkslm_op op = {
        .name = "attention", .shader = shader_of(&a, ch.R), .spec = spec, .n_spec = 6, .push = &pc,
        .push_size = sizeof pc, .grid = {{.per = ch.n_split}, {.per = n_tokens}, {.per = a.n_head_kv}},
        .arg = {
            {"q", a.q, .unit = 16, .off_at = AT(q_off), .size = qo_bytes},
            {"k", a.k, .unit = 4 * a.es, .off_at = AT(k_off), .size = span, .texel = a.texel},
            {"v", a.v, .unit = 4 * a.es, .off_at = AT(v_off), .size = span, .texel = a.texel},
            {direct ? "out" : "scratch", direct ? a.out : a.scratch, .write = 1, .off_at = AT(dst_off),
             .size = direct ? qo_bytes : scratch_bytes},
            {"positions", seqs->pos, .types = VKSLM_OP_I32, .off_at = AT(pos_off), .size = n_tokens * 4ull},
            {"sequences", seqs->seq, .types = VKSLM_OP_I32, .off_at = AT(seq_off), .size = n_tokens * 4ull},
        },
        .bytes = a.bytes, .flops = a.flops,
    };
    VKSLM_TRY(vkslm_op_record(a.c, &op));
    if (!direct)
        VKSLM_TRY(record_combine(&a, &ch));
    return VKSLM_OK;
}

/* ---- decode attention from the fused projection's rows (attention_lane.comp, FUSED_QKV) ---------------- */
#define QAT(field) VKSLM_OP_PUSH(vkslm_attn_qkv_push, field)

int vkslm_attn_qkv_fusable(vkslm_vk *vk, uint32_t head_dim, uint32_t group, uint32_t n_rot) {
    attn_ctx a = {0};
    a.vk = vk;
    a.D = head_dim;
    a.texel = vkslm_vk_is_cpu(vk) && vkslm_vk_get_enabled(vk)->texel_buffers;
    vkslm_status st = attn_shape(&a, 0);
    if (st != VKSLM_OK) /* a question, not a failure */
        vkslm_clear_error();
    if (!n_rot)
        n_rot = head_dim;
    return st == VKSLM_OK && lane_kernel(&a) && head_dim % 4u == 0 && group <= LANE_R_MAX && group <= a.r_cap &&
           n_rot % 8u == 0 && n_rot <= head_dim &&
           sizeof(vkslm_attn_qkv_push) <= vkslm_vk_get_caps(vk)->max_push_constants;
}

int vkslm_attn_qkv_x8(vkslm_vk *vk, uint32_t head_dim) {
    return head_dim % 32u == 0 && vkslm_vk_get_enabled(vk)->x8_products && vkslm_attn_qkv_fusable(vk, head_dim, 1, 0);
}

vkslm_status vkslm_op_attention_qkv(vkslm_cmd *c, const vkslm_tensor *out, const vkslm_tensor *qkv,
                                    const vkslm_tensor *k, const vkslm_tensor *v, const vkslm_tensor *scratch,
                                    const vkslm_attn_params *params, const vkslm_attn_seqs *seqs,
                                    const vkslm_tensor *ff, const vkslm_rope_params *rope) {
    const char *name = "attention_qkv";
    if (!seqs || !seqs->pos || !seqs->seq || seqs->n_seq == 0 || !params || params->p0 || !rope)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: the positions, sequences or rope parameters are missing", name);
    VKSLM_TRY(VKSLM_OP_PRESENT(name, out, qkv, k, v));
    /* q's shape for the checks: the q heads of the rows (with out in 8 bits, n_head from the rows and k's kv heads;
     * q then stands for out in attn_setup's checks of shapes) */
    const int x8 = out->type == VKSLM_TYPE_I32;
    vkslm_tensor q = *qkv;
    if (x8 && vkslm_dim(qkv, 1) <= 2u * vkslm_dim(k, 2))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: qkv must be the rows {head_dim, n_head + 2 n_head_kv, n_tokens}",
                          name);
    q.ne[1] = x8 ? vkslm_dim(qkv, 1) - 2u * vkslm_dim(k, 2) : vkslm_dim(out, 1);
    attn_ctx a;
    VKSLM_TRY(attn_setup(&a, c, x8 ? &q : out, &q, k, v, scratch, params, seqs));
    const uint32_t n_tokens = (uint32_t)vkslm_dim(&q, 2);
    const uint64_t row = (uint64_t)(a.n_head + 2u * a.n_head_kv) * a.D;
    const uint64_t x8_row = vkslm_x8_pair_ints((uint64_t)a.n_head * a.D), x8_ints = x8_row * vkslm_x8_pairs(n_tokens);
    if (x8) {
        if (!vkslm_attn_qkv_x8(a.vk, a.D))
            return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "%s: out in 8 bits needs head_dim a multiple of 32, not %u",
                              name, a.D);
        VKSLM_TRY(vkslm_op_check(name, "out", out, VKSLM_OP_I32, x8_ints));
        if (vkslm_dim(out, 0) != x8_row || vkslm_dim(out, 1) != vkslm_x8_pairs(n_tokens) || vkslm_dim(out, 2) != 1 ||
            vkslm_dim(out, 3) != 1)
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: out in 8 bits must be {%llu, %llu} (vkslm_x8)", name,
                              (unsigned long long)x8_row, (unsigned long long)vkslm_x8_pairs(n_tokens));
        if (x8_ints > UINT32_MAX)
            return vkslm_fail(VKSLM_ERR_LIMIT, "%s: out in 8 bits is too large", name);
        a.one_split = 1; /* the workgroup that computes a row writes it */
    }
    VKSLM_TRY(vkslm_op_check(name, "qkv", qkv, VKSLM_OP_F32, row * n_tokens));
    if (vkslm_dim(qkv, 0) != a.D || vkslm_dim(qkv, 1) != a.n_head + 2u * a.n_head_kv ||
        vkslm_dim(qkv, 2) != n_tokens || vkslm_dim(qkv, 3) != 1)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: qkv must be the rows {head_dim, n_head + 2 n_head_kv, n_tokens}",
                          name);
    /* the cache is written through one binding from sequence 0's K to the last sequence's V */
    if (k->buf != v->buf || v->offset < k->offset || (v->offset - k->offset) % (4u * a.es) ||
        (v->offset - k->offset) / a.es > UINT32_MAX)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: v must follow k in the cache's buffer", name);
    if (rope->mode != VKSLM_ROPE_NORMAL && rope->mode != VKSLM_ROPE_NEOX)
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "%s: rope mode %u", name, rope->mode);
    uint32_t n_rot = rope->n_rot ? rope->n_rot : a.D;
    if (n_rot % 2u || n_rot > a.D)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: n_rot %u must be even and <= head_dim", name, n_rot);
    if (!vkslm_attn_qkv_fusable(a.vk, a.D, a.group, n_rot))
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "%s: the device does not run the fused decode attention for "
                                                 "head_dim %u, %u q heads per kv head, n_rot %u "
                                                 "(vkslm_attn_qkv_fusable)", name, a.D, a.group, n_rot);
    if ((qkv->buf->offset + qkv->offset) % 16u)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: the rows must start on 16 bytes (texels)", name);
    if (ff)
        VKSLM_TRY(vkslm_op_check(name, "freq_factors", ff, VKSLM_OP_F32, n_rot / 2u));
    attn_chunk ch;
    uint64_t span;
    VKSLM_TRY(plan_seqs(&a, seqs, n_tokens, &ch, &span));
    const uint64_t v_delta = (v->offset - k->offset) / a.es, write_span = v_delta * a.es + span;
    if (!fits(&a, write_span))
        return vkslm_fail(VKSLM_ERR_LIMIT, "%s: the caches' %llu bytes do not fit one binding", name,
                          (unsigned long long)write_span);
    int direct = ch.n_split == 1;
    if (x8 && !direct)
        return vkslm_fail(VKSLM_ERR_LIMIT, "%s: out in 8 bits without a key split", name);
    uint64_t o_bytes = x8 ? x8_ints * 4u : (uint64_t)n_tokens * a.n_head * a.D * 4u;
    uint32_t spec[6] = {a.wg, a.D, ch.R, a.nsg, a.sgmax, a.dpl};
    vkslm_attn_qkv_push pc = {SEQS_PUSH(a, ch, direct, seqs), .src_stride = (uint32_t)(row / 4u),
                              .v_delta = (uint32_t)v_delta, .rope = vkslm_rope_args_of(rope, n_rot)};
    pc.rope.flags = ff != NULL;
    uint64_t scratch_bytes = (uint64_t)a.n_head_kv * ch.n_split * ch.row_elems * 4u;
    static const vkslm_shader_id shaders[2][2][2] = {
        {{VKSLM_SHADER_ATTENTION_LANE_QKV_F32_NORM, VKSLM_SHADER_ATTENTION_LANE_QKV_F32_NEOX},
         {VKSLM_SHADER_ATTENTION_LANE_QKV_F16_NORM, VKSLM_SHADER_ATTENTION_LANE_QKV_F16_NEOX}},
        {{VKSLM_SHADER_ATTENTION_LANE_QKV_F32_NORM_X8, VKSLM_SHADER_ATTENTION_LANE_QKV_F32_NEOX_X8},
         {VKSLM_SHADER_ATTENTION_LANE_QKV_F16_NORM_X8, VKSLM_SHADER_ATTENTION_LANE_QKV_F16_NEOX_X8}},
    };
    /* rows in, the output, the two cache rows written per (token, kv head); the keys read */
    double bytes = a.bytes + 4.0 * (double)(n_tokens * row) + 2.0 * (double)(n_tokens * a.n_head_kv * a.D) * a.es;
    vkslm_op op = {
        .name = name, .shader = shaders[x8][a.es == 2][rope->mode == VKSLM_ROPE_NEOX], .spec = spec, .n_spec = 6,
        .push = &pc, .push_size = sizeof pc, .grid = {{.per = ch.n_split}, {.per = n_tokens}, {.per = a.n_head_kv}},
        .arg = {
            {"qkv", qkv, .unit = 16, .off_at = QAT(q_off), .size = row * n_tokens * 4u, .texel = 1},
            {"k", a.k, .unit = 4 * a.es, .off_at = QAT(k_off), .size = span, .texel = 1},
            {"v", a.v, .unit = 4 * a.es, .off_at = QAT(v_off), .size = span, .texel = 1},
            {direct ? "out" : "scratch", direct ? out : a.scratch, .write = 1, .off_at = QAT(dst_off),
             .size = direct ? o_bytes : scratch_bytes},
            {"positions", seqs->pos, .types = VKSLM_OP_I32, .off_at = QAT(pos_off), .size = n_tokens * 4ull},
            {"sequences", seqs->seq, .types = VKSLM_OP_I32, .off_at = QAT(seq_off), .size = n_tokens * 4ull},
            /* f16 as packed words: the pairs the shader writes start on a word */
            {"cache", k, .write = 1, .unit = a.es, .align = 4, .off_at = QAT(kw_off), .size = write_span},
            {"freq_factors", ff, .optional = 1, .types = VKSLM_OP_F32, .off_at = QAT(rope.f_off),
             .size = (uint64_t)n_rot / 2u * 4u},
        },
        .bytes = bytes, .flops = a.flops,
    };
    if (x8) /* the tokens of a pair add their halves into zeros */
        VKSLM_TRY(vkslm_cmd_fill(c, out->buf, out->offset, x8_ints * 4u, 0));
    VKSLM_TRY(vkslm_op_record(a.c, &op));
    if (!direct)
        VKSLM_TRY(record_combine(&a, &ch));
    return VKSLM_OK;
}
