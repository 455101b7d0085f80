/* Records attention (shaders/attn.comp and shaders/attn_combine.comp): chooses the rows per workgroup
 * from the shared memory limit, the key splits from the work available and the scratch given, and cuts
 * the K/V, q/out and scratch bindings to the bindable storage range. */
#include <math.h>
#include <stdio.h>

#include "engine/ops/attention.h"
#include "engine/util/error.h"

#define GRAIN 64u       /* key splits are multiples of this many keys */
#define R_MAX 16u       /* rows per workgroup at most (R_MAX in shaders/attn.comp) */
#define TARGET_WG 128u  /* split the keys until about this many workgroups run */
#define MIN_SPLIT_KEYS 128u
#define COMBINE_WG 64u

typedef struct attn_ctx {
    vkslm_cmd *c;
    vkslm_vk *vk;
    const vkslm_tensor *out, *q, *k, *v, *scratch;
    uint32_t D, n_head, n_head_kv, group, n_ctx, window, es, p16;
    float scale, softcap;
    uint64_t avail;       /* bytes one binding may span, after alignment slack */
    uint32_t r_cap;       /* rows per workgroup the shared memory allows */
    uint32_t wg, nsg, sgmax, one_sg; /* workgroup size, subgroups in it at most, lanes at most */
} attn_ctx;

static uint64_t dim(const vkslm_tensor *t, int i) { return t->ne[i] ? t->ne[i] : 1; }
static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

uint64_t vkslm_attn_scratch_bytes(uint32_t n_tokens, uint32_t n_head, uint32_t head_dim, uint32_t max_split) {
    return (uint64_t)n_tokens * n_head * (head_dim + 2u) * 4u * max_split;
}

static vkslm_status check_tensor(const char *which, const vkslm_tensor *t, int allow_f16) {
    if (!t || !t->buf)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "attention: tensor %s is missing", which);
    if (t->type != VKSLM_TYPE_F32 && !(allow_f16 && t->type == VKSLM_TYPE_F16))
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "attention: tensor %s has type %u; it must be F32%s", which, t->type,
                          allow_f16 ? " or F16" : "");
    uint32_t es = t->type == VKSLM_TYPE_F16 ? 2u : 4u;
    if ((t->offset + t->buf->offset) % es)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "attention: tensor %s is not element-aligned", which);
    return VKSLM_OK;
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
static int piece_fits(const attn_ctx *a, const attn_chunk *ch, uint32_t h0, uint32_t h1, uint32_t s0, uint32_t s1) {
    uint32_t c0 = ch->key_lo + s0 * ch->chunk;
    uint32_t c1 = ch->key_lo + s1 * ch->chunk;
    if (c1 > ch->kv_end)
        c1 = ch->kv_end;
    if (kv_span(a, h0, h1, c0, c1) > a->avail)
        return 0;
    if (ch->n_split > 1) {
        uint64_t first = ((uint64_t)h0 * ch->n_split + s0) * ch->row_elems;
        uint64_t end = ((uint64_t)(h1 - 1) * ch->n_split + s1) * ch->row_elems;
        if ((end - first) * 4u > a->avail)
            return 0;
    }
    return 1;
}

static vkslm_status record_piece(const attn_ctx *a, const attn_chunk *ch, const vkslm_pipeline *p, uint32_t h0,
                                 uint32_t h1, uint32_t s0, uint32_t s1) {
    uint32_t c0 = ch->key_lo + s0 * ch->chunk;
    uint32_t c1 = ch->key_lo + s1 * ch->chunk;
    if (c1 > ch->kv_end)
        c1 = ch->kv_end;
    uint64_t hs = (uint64_t)a->n_ctx * a->D;
    uint64_t kv_first = ((uint64_t)h0 * hs + (uint64_t)c0 * a->D) * a->es, kv_bytes = kv_span(a, h0, h1, c0, c1);
    uint64_t qo_bytes = (uint64_t)ch->n_tokens * a->n_head * a->D * 4u;
    vkslm_binding bind[4];
    uint64_t skip;
    vkslm_attn_push pc = {0};
    /* q, k and v are read as groups of 4 elements; their offsets are multiples of a group (checked) */
    VKSLM_TRY(vkslm_vk_bind(a->vk, a->q->buf, a->q->offset + ch->q_byte, qo_bytes, 0, &bind[0], &skip));
    pc.q_off = (uint32_t)(skip / 16u);
    VKSLM_TRY(vkslm_vk_bind(a->vk, a->k->buf, a->k->offset + kv_first, kv_bytes, 0, &bind[1], &skip));
    pc.k_off = (uint32_t)(skip / (4u * a->es));
    VKSLM_TRY(vkslm_vk_bind(a->vk, a->v->buf, a->v->offset + kv_first, kv_bytes, 0, &bind[2], &skip));
    pc.v_off = (uint32_t)(skip / (4u * a->es));
    if (ch->n_split == 1) {
        VKSLM_TRY(vkslm_vk_bind(a->vk, a->out->buf, a->out->offset + ch->out_byte, qo_bytes, 1, &bind[3], &skip));
    } else {
        uint64_t first = ((uint64_t)h0 * ch->n_split + s0) * ch->row_elems;
        uint64_t end = ((uint64_t)(h1 - 1) * ch->n_split + s1) * ch->row_elems;
        VKSLM_TRY(vkslm_vk_bind(a->vk, a->scratch->buf, a->scratch->offset + first * 4u, (end - first) * 4u, 1,
                                &bind[3], &skip));
    }
    pc.dst_off = (uint32_t)(skip / 4u);
    pc.n_rows = ch->n_rows;
    pc.group = a->group;
    pc.n_head = a->n_head;
    pc.p0 = ch->p0;
    pc.kv_end = ch->kv_end;
    pc.key_lo = ch->key_lo;
    pc.window = a->window;
    pc.chunk = ch->chunk;
    pc.n_split = ch->n_split;
    pc.split_base = s0;
    pc.head_base = h0;
    pc.key_base = c0;
    pc.head_stride = (uint32_t)(hs / 4u);
    pc.pos_stride = a->D / 4u;
    pc.direct = ch->n_split == 1;
    pc.scale = a->scale;
    pc.softcap = a->softcap;
    return vkslm_cmd_dispatch(a->c, p, bind, 4, &pc, s1 - s0, ch->tiles, h1 - h0, "attention");
}

static vkslm_status record_combine(const attn_ctx *a, const attn_chunk *ch) {
    uint32_t spec[2] = {COMBINE_WG, a->D};
    const vkslm_pipeline *p;
    VKSLM_TRY(vkslm_vk_pipeline(a->vk, "attn_combine", 2, sizeof(vkslm_attn_combine_push), spec, 2, &p));
    uint64_t per_head = (uint64_t)ch->n_split * ch->row_elems * 4u;
    uint32_t heads = per_head * a->n_head_kv <= a->avail ? a->n_head_kv : 1u;
    uint64_t out_bytes = (uint64_t)ch->n_tokens * a->n_head * a->D * 4u;
    for (uint32_t h0 = 0; h0 < a->n_head_kv; h0 += heads) {
        vkslm_binding bind[2];
        uint64_t skip;
        vkslm_attn_combine_push pc = {0};
        VKSLM_TRY(vkslm_vk_bind(a->vk, a->scratch->buf, a->scratch->offset + h0 * per_head, heads * per_head, 0,
                                &bind[0], &skip));
        pc.src_off = (uint32_t)(skip / 4u);
        VKSLM_TRY(vkslm_vk_bind(a->vk, a->out->buf, a->out->offset + ch->out_byte, out_bytes, 1, &bind[1], &skip));
        pc.out_off = (uint32_t)(skip / 4u);
        pc.n_rows = ch->n_rows;
        pc.group = a->group;
        pc.n_head = a->n_head;
        pc.n_split = ch->n_split;
        pc.head_base = h0;
        VKSLM_TRY(vkslm_cmd_dispatch(a->c, p, bind, 2, &pc, ch->n_rows, 1, heads, "attention combine"));
    }
    return VKSLM_OK;
}

static uint32_t pow2_floor(uint32_t x) {
    uint32_t p = 1;
    while (p * 2u <= x)
        p *= 2u;
    return p;
}

/* Plans and records tokens [t0, t0 + n_tokens) of the call. */
static vkslm_status record_chunk(const attn_ctx *a, uint32_t t0, uint32_t n_tokens, uint32_t p0) {
    attn_chunk ch = {0};
    ch.q_byte = ch.out_byte = (uint64_t)t0 * a->n_head * a->D * 4u;
    ch.n_tokens = n_tokens;
    ch.p0 = p0 + t0;
    ch.n_rows = n_tokens * a->group;
    ch.R = a->r_cap;
    while (ch.R > 1 && ch.R / 2u >= ch.n_rows)
        ch.R /= 2u;
    ch.tiles = (uint32_t)ceil_div(ch.n_rows, ch.R);
    ch.kv_end = ch.p0 + n_tokens;
    ch.key_lo = a->window && ch.p0 + 1u > a->window ? ch.p0 + 1u - a->window : 0u;
    ch.row_elems = (uint64_t)ch.n_rows * (a->D + 2u);
    uint32_t span = ch.kv_end - ch.key_lo;

    /* keys one kv head's binding can hold, in whole blocks */
    uint64_t row_bytes = (uint64_t)a->D * a->es;
    uint64_t keys_fit = a->avail >= row_bytes ? (a->avail - row_bytes) / row_bytes + 1u : 0u;
    keys_fit -= keys_fit % GRAIN;
    if (keys_fit == 0)
        return vkslm_fail(VKSLM_ERR_LIMIT, "attention: %u keys (head_dim %u) exceed the bindable range", GRAIN,
                          a->D);
    /* splits the scratch allows: all of them in the tensor, one kv head's in one binding */
    uint64_t by_scratch = 0;
    if (a->scratch) {
        by_scratch = vkslm_tensor_nelems(a->scratch) / (ch.row_elems * a->n_head_kv);
        uint64_t by_range = a->avail / (ch.row_elems * 4u);
        if (by_scratch > by_range)
            by_scratch = by_range;
    }
    uint64_t want = ceil_div(TARGET_WG, (uint64_t)ch.tiles * a->n_head_kv);
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

    uint32_t spec[5] = {a->wg, a->D, ch.R, a->nsg, a->sgmax};
    char variant[32];
    snprintf(variant, sizeof variant, "attn_%s%s%s", a->es == 2 ? "f16" : "f32", a->p16 ? "_p16" : "",
             a->one_sg ? "_1sg" : "");
    const vkslm_pipeline *p;
    VKSLM_TRY(vkslm_vk_pipeline(a->vk, variant, 4, sizeof(vkslm_attn_push), spec, 5, &p));

    uint32_t heads = piece_fits(a, &ch, 0, a->n_head_kv, 0, 1) ? a->n_head_kv : 1u;
    for (uint32_t h0 = 0; h0 < a->n_head_kv; h0 += heads) {
        if (!piece_fits(a, &ch, h0, h0 + heads, 0, 1))
            return vkslm_fail(VKSLM_ERR_LIMIT, "attention: one key split does not fit the bindable range");
        for (uint32_t s0 = 0; s0 < ch.n_split;) {
            uint32_t s1 = s0 + 1u;
            while (s1 < ch.n_split && piece_fits(a, &ch, h0, h0 + heads, s0, s1 + 1u))
                s1++;
            VKSLM_TRY(record_piece(a, &ch, p, h0, h0 + heads, s0, s1));
            s0 = s1;
        }
    }
    if (ch.n_split > 1)
        VKSLM_TRY(record_combine(a, &ch));
    return VKSLM_OK;
}

vkslm_status vkslm_op_attention(vkslm_cmd *c, const vkslm_tensor *out, const vkslm_tensor *q, const vkslm_tensor *k,
                                const vkslm_tensor *v, const vkslm_tensor *scratch, const vkslm_attn_params *params) {
    VKSLM_TRY(check_tensor("q", q, 0));
    VKSLM_TRY(check_tensor("out", out, 0));
    VKSLM_TRY(check_tensor("k", k, 1));
    VKSLM_TRY(check_tensor("v", v, 1));
    if (scratch)
        VKSLM_TRY(check_tensor("scratch", scratch, 0));
    if (!params)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "attention: params are missing");
    uint64_t D = dim(q, 0), n_head = dim(q, 1), n_tokens = dim(q, 2);
    uint64_t n_ctx = dim(k, 1), n_head_kv = dim(k, 2);
    if (dim(q, 3) != 1 || dim(out, 0) != D || dim(out, 1) != n_head || dim(out, 2) != n_tokens || dim(out, 3) != 1)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "attention: out must have q's shape {head_dim, n_head, n_tokens}");
    if (dim(k, 0) != D || dim(k, 3) != 1 || v->type != k->type)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "attention: k must be {head_dim, n_ctx, n_head_kv} with q's head_dim");
    for (int i = 0; i < 4; i++)
        if (dim(v, i) != dim(k, i))
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
    if ((uint64_t)params->p0 + n_tokens > n_ctx)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "attention: positions up to %llu exceed the cache's %llu",
                          (unsigned long long)(params->p0 + n_tokens), (unsigned long long)n_ctx);
    if (n_ctx * D > UINT32_MAX || n_head * n_tokens > UINT32_MAX)
        return vkslm_fail(VKSLM_ERR_LIMIT, "attention: a cache of %llu positions is too large",
                          (unsigned long long)n_ctx);
    if (!(params->softcap >= 0.0f) || !(params->scale >= 0.0f) || !isfinite(params->scale) ||
        !isfinite(params->softcap))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "attention: scale and softcap must be finite and not negative");

    attn_ctx a = {0};
    a.c = c;
    a.vk = vkslm_cmd_vk(c);
    const vkslm_vk_caps *caps = vkslm_vk_get_caps(a.vk);
    a.out = out;
    a.q = q;
    a.k = k;
    a.v = v;
    a.scratch = scratch;
    a.D = (uint32_t)D;
    a.n_head = (uint32_t)n_head;
    a.n_head_kv = (uint32_t)n_head_kv;
    a.group = (uint32_t)(n_head / n_head_kv);
    a.n_ctx = (uint32_t)n_ctx;
    a.window = params->window;
    a.es = k->type == VKSLM_TYPE_F16 ? 2u : 4u;
    a.p16 = a.es == 2 && !vkslm_vk_get_enabled(a.vk)->storage16;
    a.scale = params->scale > 0.0f ? params->scale : 1.0f / sqrtf((float)D);
    a.softcap = params->softcap;
    a.avail = vkslm_vk_max_range(a.vk) - caps->min_storage_offset_align - 4u;

    /* one workgroup holds subgroups of the largest size (at least 4 invocations); ONE_SUBGROUP when the
     * device has a single subgroup size, so that the workgroup is exactly one subgroup */
    const VkSubgroupFeatureFlags need = VK_SUBGROUP_FEATURE_BASIC_BIT | VK_SUBGROUP_FEATURE_ARITHMETIC_BIT;
    if ((caps->subgroup_ops & need) != need)
        return vkslm_fail(VKSLM_ERR_FEATURE_MISSING, "attention: the device lacks subgroup arithmetic in compute");
    uint32_t sgmin = caps->subgroup_size_min ? caps->subgroup_size_min : 1u;
    a.sgmax = caps->subgroup_size_max > sgmin ? caps->subgroup_size_max : sgmin;
    uint32_t n_sg = params->subgroups ? params->subgroups : 1u;
    if (n_sg > 16u)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "attention: %u subgroups per workgroup (16 at most)", n_sg);
    a.wg = (a.sgmax < 4u ? 4u : a.sgmax) * n_sg;
    a.nsg = (a.wg + sgmin - 1u) / sgmin;
    a.one_sg = caps->subgroup_size_control && sgmin == a.sgmax && a.wg == a.sgmax;
    /* shared memory per row: q and one o per subgroup (D each), probabilities (sgmax), max and sum */
    uint32_t per_row = 4u * (a.D + a.nsg * (a.D + a.sgmax + 2u));
    uint32_t r = caps->max_shared_memory / per_row;
    a.r_cap = pow2_floor(r < R_MAX ? (r ? r : 1u) : R_MAX);
    if (caps->max_shared_memory < per_row || caps->max_workgroup_invocations < a.wg ||
        caps->max_workgroup_invocations < COMBINE_WG)
        return vkslm_fail(VKSLM_ERR_LIMIT, "attention: the device's workgroup limits are too small");

    /* token chunks: q and out of a chunk fit one binding; rows and tiles fit the workgroup counts */
    uint64_t per_token = (uint64_t)a.n_head * (a.D + 2u) * 4u;
    uint64_t max_tok = a.avail / per_token;
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
