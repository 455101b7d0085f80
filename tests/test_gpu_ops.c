/* Every GPU op against its plain-C reference in engine/cpu, driven by one table (as llama.cpp's
 * test-backend-ops): a row names an op, its shapes and types, and the device modes it runs under: the
 * default device, fp16 and 8/16-bit storage off, a small forced storage range (so that the op must split
 * its work), the mat-vec's rows per invocation forced to 1..4. Inputs are random (seeded: VKSLM_TEST_SEED
 * repeats a run), shapes odd (no multiples of any tile or workgroup size), tensors at misaligned offsets
 * between poison (tests/util_ops.h); outputs are compared by NMSE, selections exactly. Bounds:
 *   norm, add_norm 1e-10  f32 throughout; only the summation order differs
 *   glu 1e-10             only exp rounding; 1e-7 under 16 elements, where a single gelu(-8) ~ -1e-10
 *                         carries the f32 rounding of y = 0.798 (x + 0.045 x^3) amplified by |2y| ~ 50
 *   add, scale 1e-14      exact in f32; softcap 1e-10 (tanh through exp); f16 output 1e-6 and every
 *                         element within one f16 rounding step (the device may round ties differently)
 *   get_rows 1e-12        the decoders reproduce the CPU's values up to fused multiply-add rounding
 *   matmul 1e-9           weights decode exactly; only f32 summation order differs (one output alone: 1e-6,
 *                         its NMSE is its squared relative error, and a sum that cancels lifts it); the
 *                         mat-vec kernels also bit for bit: a (row, vector) computes the same bits whatever
 *                         vectors share its dispatch and wherever it sits among them (batched decoding gives
 *                         each sequence the logits it would get alone), on the default device, without
 *                         texel buffers, and (ctest) at subgroup sizes 4 and 16
 *   topk                  ids and values exactly (ties to the lower id, NaN as -inf)
 *   rope 1e-10            for positions < 64; 1e-6 up to 32767, where the f32 angle pos * base^(-2p/n_rot)
 *                         alone carries an absolute error near 0.5 ulp(pos) ~ 2e-3 rad (any f32 RoPE has it);
 *                         also with linear, YaRN and LongRoPE-style scaling
 *   kv_write              f32 exact (1e-14), f16 within one f16 rounding step of every element (1e-6);
 *                         fused RoPE within 5e-5 absolute as well (positions < 64, inputs in [-3, 3]: f32
 *                         angles within ~1e-5 rad, times 1.2 at most for the scalings' magnitude; 1e-9 in
 *                         f32); everything else in the cache keeps its poison
 *   attention 1e-9        f32 arithmetic against a double reference on the same (f16-rounded) inputs;
 *                         1e-8 with soft-capping (tanh adds its own rounding) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cpu/act.h"
#include "engine/cpu/attention.h"
#include "engine/cpu/elementwise.h"
#include "engine/cpu/get_rows.h"
#include "engine/cpu/kv_cache.h"
#include "engine/cpu/matmul.h"
#include "engine/cpu/norm.h"
#include "engine/cpu/rope.h"
#include "engine/cpu/select.h"
#include "engine/ops/act.h"
#include "engine/ops/attention.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/get_rows.h"
#include "engine/ops/kv_cache.h"
#include "engine/ops/matmul.h"
#include "engine/ops/norm.h"
#include "engine/ops/rope.h"
#include "engine/ops/select.h"
#include "loaders/ggml_types.h"
#include "tests/harness.h"
#include "tests/util_ops.h"
#include "tests/util_weights.h"

/* ---- the device modes ------------------------------------------------------------------------------ */
enum {
    M_BASE = 1,        /* the shared default context */
    M_NO16 = 2,        /* fp16 arithmetic, 16-bit and 8-bit storage off: packed-word paths */
    M_RANGE = 4,       /* a 1 MiB bindable range (and timestamps, to count dispatches) */
    M_RANGE_256K = 8,  /* a 256 KiB bindable range */
    M_RPL = 16,        /* VKSLM_MATVEC_RPL=1, 3, 7, 16, 32: each row runs with the (row index % 5)-th of those rows per
                        * invocation (the storage-buffer kernels take at most 4) */
    M_STABLE = 32,     /* the bitwise check of the mat-vec kernels (matmul rows with .stable), default device and
                        * texel buffers off */
};

/* ---- the table ------------------------------------------------------------------------------------- */
#define LIST 12   /* values of a swept parameter; a 0 ends the list */
#define ANY 0xffu /* every type the op takes (swept) */
#define PAD 36    /* elements before a tensor: a multiple of 4 whose byte count is no multiple of the offset
                   * alignment */

typedef enum { OP_NORM, OP_GLU, OP_EW, OP_GET_ROWS, OP_MATMUL, OP_TOPK, OP_ROPE, OP_KV, OP_ATTN } op_kind;
typedef enum { EW_ADD, EW_SCALE, EW_SOFTCAP } ew_kind;
enum { NB_SAME = 1, NB_ONE = 2, NB_DIVISOR = 4 }; /* broadcast periods of add's b */
enum { KV_PLAIN, KV_ROPE, KV_PAIR };                 /* kv writes: plain, k roped, k roped + v together */
enum { POS_TABLE, POS_SPREAD, POS_DOWN };            /* kv write positions */

typedef struct norm_case { uint32_t n[LIST], rows[LIST]; int w, add; } norm_case;
typedef struct glu_case { uint32_t n[LIST], rows[LIST]; int gelu, fused; } glu_case;
typedef struct ew_case { ew_kind op; uint32_t ta, td, n[LIST], nb_modes, nb; } ew_case;
typedef struct get_rows_case {
    uint32_t type, k, k256, n_rows, n_ids; /* k256: K of types with 256-element blocks */
    uint32_t w_mult, w_off;                /* weight offset: w_mult times the type's alignment, or w_off bytes */
} get_rows_case;
typedef struct matmul_case {
    uint32_t type, every;                  /* every: only every n-th swept type (0: all) */
    vkslm_matmul_kernel kernel;            /* or ALT_VEC: row per lane and row per subgroup by turns */
    uint32_t phase;                        /* of the turns */
    uint32_t k, k256, n, m, bias, w_mult, w_off, x_off, d_off, max_vec;
    double bound;                          /* 0: 1e-9 */
    int stable;                            /* the m vectors also in dispatches of every size (run_matmul_stable) */
} matmul_case;
#define ALT_VEC 99
typedef struct topk_case { uint32_t n[LIST], k[LIST], rows, ties, thin; } topk_case; /* k 0: argmax, no values */
typedef struct rope_case {
    uint32_t hd, nh, nt, n_rot, neox, ff, extra_heads, in_place, max_pos[2];
    float base;
    uint32_t scaling; /* index into scalings[] */
} rope_case;
typedef struct kv_case {
    uint32_t n_layer, n_kv, n_ctx, hd, type; /* the layout (type ANY: F32 and F16) */
    uint32_t layer, which, n_tokens, n_q_heads, pos_kind, pos_at;
    uint32_t how, neox, n_rot, ff;
    float base;
    uint32_t scaling; /* index into scalings[] */
} kv_case;

/* RoPE scalings: none; linear factor 2; YaRN factor 4 (qwen2-yarn4's numbers: corr dims 0..9, mscale
 * 1 + 0.1 ln 4); a LongRoPE-style magnitude (attention factor 1.1902, and 1.19); YaRN with a partial ramp */
static const vkslm_rope_ext scalings[] = {
    {1.0f, 0.0f, 1.0f, 0.0f, 0.0f},    {0.5f, 0.0f, 1.0f, 0.0f, 0.0f}, {0.25f, 1.0f, 1.1386294f, 0.0f, 9.0f},
    {1.0f, 0.0f, 1.1902f, 0.0f, 0.0f}, {0.125f, 0.5f, 1.2f, 3.0f, 20.0f}, {1.0f, 0.0f, 1.19f, 0.0f, 0.0f},
};

static vkslm_rope_params rope_params(uint32_t neox, uint32_t n_rot, float base, uint32_t scaling) {
    const vkslm_rope_ext *x = &scalings[scaling];
    vkslm_rope_params p = {.mode = neox ? VKSLM_ROPE_NEOX : VKSLM_ROPE_NORMAL, .n_rot = n_rot, .theta_base = base,
                           .freq_scale = x->freq_scale, .ext_factor = x->ext_factor, .attn_factor = x->attn_factor,
                           .corr_low = x->corr_low, .corr_high = x->corr_high};
    return p;
}
typedef struct attn_case {
    uint32_t D, n_head, n_head_kv, n_tokens, n_ctx, p0, window;
    float scale, softcap;
    uint32_t kv_type, splits, subgroups;   /* kv_type ANY: F16 and F32; splits: scratch for that many, 0 none */
    vkslm_status expect;                   /* VKSLM_OK, or the refusal expected */
    uint32_t min_attn, exact_attn, min_combine, no_combine; /* dispatch counts (M_RANGE: it profiles) */
} attn_case;

typedef struct op_case {
    op_kind op;
    uint32_t modes;
    union {
        norm_case norm;
        glu_case glu;
        ew_case ew;
        get_rows_case get_rows;
        matmul_case matmul;
        topk_case topk;
        rope_case rope;
        kv_case kv;
        attn_case attn;
    };
} op_case;

/* decode: one token at position n_kv - 1 of a cache of n_kv + 5 */
#define DECODE(D_, NH, NKV, N_KV, WIN, SCALE, CAP, TYPE, SPLITS)                                                 \
    .attn = {.D = D_, .n_head = NH, .n_head_kv = NKV, .n_tokens = 1, .n_ctx = (N_KV) + 5, .p0 = (N_KV) - 1,     \
             .window = WIN, .scale = SCALE, .softcap = CAP, .kv_type = TYPE, .splits = SPLITS}
/* prefill: n tokens from p0 in a cache of p0 + n + 3 */
#define PREFILL(D_, NH, NKV, N, P0, WIN, SCALE, CAP, TYPE, SPLITS)                                              \
    .attn = {.D = D_, .n_head = NH, .n_head_kv = NKV, .n_tokens = N, .n_ctx = (P0) + (N) + 3, .p0 = P0,         \
             .window = WIN, .scale = SCALE, .softcap = CAP, .kv_type = TYPE, .splits = SPLITS}
#define F32 VKSLM_TYPE_F32
#define F16 VKSLM_TYPE_F16
#define ALL (M_BASE | M_NO16)

static const op_case cases[] = {
    /* RMSNorm, with and without weight; the residual add fused in front */
    {OP_NORM, ALL, .norm = {.n = {1, 7, 96, 895, 2048, 4099}, .rows = {1, 3, 37}, .w = 1}},
    {OP_NORM, M_BASE, .norm = {.n = {1, 895, 4099}, .rows = {1, 37}, .w = 0}},
    {OP_NORM, ALL, .norm = {.n = {1, 7, 576, 4099}, .rows = {1, 5, 33}, .w = 1, .add = 1}},
    {OP_NORM, M_RANGE, .norm = {.n = {4099}, .rows = {300}, .w = 1}},
    {OP_NORM, M_RANGE, .norm = {.n = {4099}, .rows = {300}, .w = 1, .add = 1}},
    /* SwiGLU and GeGLU, gate and up separate or fused, extreme inputs */
    {OP_GLU, M_BASE, .glu = {.n = {1, 7, 129, 896, 4099}, .rows = {1, 3, 17}, .gelu = 0, .fused = 0}},
    {OP_GLU, ALL, .glu = {.n = {1, 7, 129, 896, 4099}, .rows = {1, 3, 17}, .gelu = 0, .fused = 1}},
    {OP_GLU, ALL, .glu = {.n = {1, 7, 129, 896, 4099}, .rows = {1, 3, 17}, .gelu = 1, .fused = 0}},
    {OP_GLU, M_BASE, .glu = {.n = {1, 7, 129, 896, 4099}, .rows = {1, 3, 17}, .gelu = 1, .fused = 1}},
    {OP_GLU, M_RANGE, .glu = {.n = {4099}, .rows = {200}, .gelu = 0, .fused = 1}},
    {OP_GLU, M_RANGE, .glu = {.n = {4099}, .rows = {200}, .gelu = 1, .fused = 0}},
    /* elementwise, every type pairing, odd sizes, broadcast */
    {OP_EW, ALL, .ew = {EW_ADD, ANY, ANY, {1, 2, 3, 7, 255, 256, 257, 1001, 4099, 65537}, NB_SAME | NB_ONE | NB_DIVISOR}},
    {OP_EW, ALL, .ew = {EW_SCALE, ANY, ANY, {1, 2, 3, 7, 255, 256, 257, 1001, 4099, 65537}, NB_SAME}},
    {OP_EW, ALL, .ew = {EW_SOFTCAP, ANY, ANY, {1, 2, 3, 7, 255, 256, 257, 1001, 4099, 65537}, NB_SAME}},
    {OP_EW, M_RANGE, .ew = {EW_ADD, F32, F32, {3146143}, NB_SAME}},          /* 12.6 MB: b split too */
    {OP_EW, M_RANGE, .ew = {EW_ADD, F32, F32, {3146143}, .nb = 1001}},
    {OP_EW, M_RANGE, .ew = {EW_SCALE, F32, F16, {3146143}, NB_SAME}},
    {OP_EW, M_RANGE, .ew = {EW_SCALE, F16, F32, {3146143}, NB_SAME}},
    {OP_EW, M_RANGE, .ew = {EW_ADD, F32, F32, {900003}, .nb = 300001}},      /* b larger than the range */
    /* embedding rows, every weight type; plain rows of any length */
    {OP_GET_ROWS, ALL, .get_rows = {ANY, 32 * 7, 768, 37, 13, .w_mult = 1}},
    {OP_GET_ROWS, M_BASE, .get_rows = {ANY, 32 * 3, 256, 5, 9}},
    {OP_GET_ROWS, M_BASE, .get_rows = {F32, 8, 0, 37, 5}},
    {OP_GET_ROWS, M_BASE, .get_rows = {F16, 172, 0, 64, 5, .w_off = 2}},
    {OP_GET_ROWS, M_BASE, .get_rows = {VKSLM_TYPE_BF16, 36, 0, 1001, 5}},
    {OP_GET_ROWS, M_BASE, .get_rows = {F16, 12, 0, 3, 5}},
    {OP_GET_ROWS, M_RANGE, .get_rows = {VKSLM_TYPE_Q8_0, 1024, 0, 1931, 41, .w_off = 2}},
    {OP_GET_ROWS, M_RANGE, .get_rows = {VKSLM_TYPE_Q4_K, 2048, 2048, 1000, 29}},
    {OP_GET_ROWS, M_RANGE, .get_rows = {F16, 1024, 0, 600, 300, .w_off = 4}}, /* output split: 1.2 MB */
    /* weight products: mat-vec strategies by turns (odd rows, 1-11 vectors, bias, offsets), the tiled and
     * register prefill kernels (partial tiles), plain rows, vectors in passes, forced rows per invocation */
    {OP_MATMUL, M_BASE, .matmul = {ANY, 0, ALT_VEC, 0, 160, 256, 67, 1}},
    {OP_MATMUL, ALL, .matmul = {ANY, 0, ALT_VEC, 1, 1184, 768, 130, 3, 1, 1, 0, 16, 4}},
    {OP_MATMUL, M_BASE, .matmul = {ANY, 5, ALT_VEC, 2, 160, 256, 29, 11, 1, 2, 0, 32, 8}},
    {OP_MATMUL, ALL, .matmul = {ANY, 0, VKSLM_MATMUL_TILED, 0, 288, 512, 91, 39, 1, 1, 0, 16, 4}},
    {OP_MATMUL, M_BASE, .matmul = {ANY, 3, VKSLM_MATMUL_ROW_PER_LANE, 0, 96, 256, 45, 19}},
    {OP_MATMUL, M_BASE, .matmul = {VKSLM_TYPE_Q4_0, 0, VKSLM_MATMUL_TILED, 0, 64, 0, 1, 1, 1, .bound = 1e-6}},
    {OP_MATMUL, M_BASE, .matmul = {VKSLM_TYPE_Q4_K, 0, VKSLM_MATMUL_ROW_PER_LANE, 0, 512, 512, 45, 7, 1, .max_vec = 2}},
    {OP_MATMUL, M_BASE, .matmul = {VKSLM_TYPE_Q4_K, 0, VKSLM_MATMUL_ROW_PER_SUBGROUP, 0, 512, 512, 45, 7, 1, .max_vec = 3}},
    {OP_MATMUL, M_BASE, .matmul = {VKSLM_TYPE_Q5_0, 0, VKSLM_MATMUL_AUTO, 0, 512, 0, 45, 7, 1, .max_vec = 1}},
    {OP_MATMUL, M_BASE, .matmul = {VKSLM_TYPE_Q4_K, 0, VKSLM_MATMUL_ROW_PER_LANE, 0, 768, 768, 19, 1, .w_off = 2}},
    {OP_MATMUL, M_BASE, .matmul = {VKSLM_TYPE_Q5_K, 0, VKSLM_MATMUL_ROW_PER_LANE, 0, 768, 768, 19, 3, .w_off = 2}},
    {OP_MATMUL, M_BASE, .matmul = {VKSLM_TYPE_Q6_K, 0, VKSLM_MATMUL_ROW_PER_LANE, 0, 768, 768, 19, 1, .w_off = 2}},
    {OP_MATMUL, M_BASE, .matmul = {F32, 0, VKSLM_MATMUL_AUTO, 0, 8, 0, 37, 1, 0, .bound = 1e-10}},
    {OP_MATMUL, M_BASE, .matmul = {F16, 0, VKSLM_MATMUL_AUTO, 0, 172, 0, 64, 3, 1, .bound = 1e-10}},
    {OP_MATMUL, M_BASE, .matmul = {VKSLM_TYPE_BF16, 0, VKSLM_MATMUL_AUTO, 0, 36, 0, 5, 9, 0, .bound = 1e-10}},
    {OP_MATMUL, M_BASE, .matmul = {F32, 0, VKSLM_MATMUL_AUTO, 0, 12, 0, 1001, 2, 1, .bound = 1e-10}},
    {OP_MATMUL, M_BASE, .matmul = {F16, 0, VKSLM_MATMUL_AUTO, 0, 4, 0, 3, 17, 0, .w_off = 2, .bound = 1e-10}},
    {OP_MATMUL, M_RPL, .matmul = {VKSLM_TYPE_Q6_K, 0, VKSLM_MATMUL_ROW_PER_LANE, 0, 512, 512, 23, 1}},
    {OP_MATMUL, M_RPL, .matmul = {VKSLM_TYPE_Q4_0, 0, VKSLM_MATMUL_ROW_PER_SUBGROUP, 0, 512, 0, 23, 2, 1, .w_off = 2}},
    {OP_MATMUL, M_RPL, .matmul = {VKSLM_TYPE_Q5_K, 0, VKSLM_MATMUL_ROW_PER_SUBGROUP, 0, 512, 512, 23, 4, 1, .w_off = 2}},
    {OP_MATMUL, M_RPL, .matmul = {F16, 0, VKSLM_MATMUL_ROW_PER_LANE, 0, 512, 0, 41, 3, 0, .w_off = 4}},
    {OP_MATMUL, M_RPL, .matmul = {VKSLM_TYPE_Q4_0, 0, VKSLM_MATMUL_ROW_PER_LANE, 0, 256, 0, 70, 5, 1, .w_off = 2, .stable = 1}},
    {OP_MATMUL, M_RANGE, .matmul = {VKSLM_TYPE_Q8_0, 0, VKSLM_MATMUL_ROW_PER_LANE, 0, 1024, 0, 1931, 1, 0, .w_off = 2, .x_off = 32, .d_off = 8}},
    {OP_MATMUL, M_RANGE, .matmul = {F32, 0, VKSLM_MATMUL_ROW_PER_SUBGROUP, 0, 1024, 0, 1931, 3, 1, .w_off = 4, .x_off = 32, .d_off = 8}},
    {OP_MATMUL, M_RANGE, .matmul = {VKSLM_TYPE_Q6_K, 0, VKSLM_MATMUL_ROW_PER_LANE, 0, 1024, 1024, 1931, 5, 0, .w_off = 2, .x_off = 32, .d_off = 8}},
    {OP_MATMUL, M_RANGE, .matmul = {VKSLM_TYPE_Q4_0, 0, VKSLM_MATMUL_ROW_PER_SUBGROUP, 0, 1024, 0, 1931, 7, 1, .w_off = 2, .x_off = 32, .d_off = 8}},
    {OP_MATMUL, M_RANGE, .matmul = {VKSLM_TYPE_Q8_0, 0, VKSLM_MATMUL_TILED, 0, 1024, 0, 1931, 37, 1, .w_off = 2, .x_off = 16, .d_off = 4}},
    {OP_MATMUL, M_RANGE, .matmul = {VKSLM_TYPE_Q8_0, 0, VKSLM_MATMUL_ROW_PER_LANE, 0, 1024, 0, 1931, 37, 1, .w_off = 2, .x_off = 16, .d_off = 4}},
    {OP_MATMUL, M_RANGE, .matmul = {VKSLM_TYPE_Q4_K, 0, VKSLM_MATMUL_TILED, 0, 1024, 1024, 70, 300}}, /* x split by tokens */
    /* bit for bit: 8 vectors (every type, the kernel the device picks, few and many rows per invocation),
     * both mat-vec strategies, and 19 tokens through the register kernel in groups of 8 */
    {OP_MATMUL, M_STABLE, .matmul = {ANY, 0, VKSLM_MATMUL_AUTO, 0, 160, 256, 67, 8, 1, .w_mult = 1, .stable = 1}},
    {OP_MATMUL, M_STABLE, .matmul = {ANY, 2, VKSLM_MATMUL_AUTO, 0, 576, 768, 1931, 8, 0, .stable = 1}},
    {OP_MATMUL, M_STABLE, .matmul = {ANY, 3, VKSLM_MATMUL_ROW_PER_SUBGROUP, 1, 224, 512, 45, 8, 1, .stable = 1}},
    {OP_MATMUL, M_STABLE, .matmul = {ANY, 3, VKSLM_MATMUL_ROW_PER_LANE, 2, 96, 256, 1100, 19, 1, .w_mult = 1, .stable = 1}},
    /* top-k and argmax (k 0: the argmax, values not asked for): odd lengths up to a vocabulary, ties, NaN */
    {OP_TOPK, M_BASE, .topk = {{1, 5, 1000, 1025, 4099, 151936}, {0, 1, 8, 40, 64}, .ties = 3}},
    {OP_TOPK, M_NO16, .topk = {{1, 5, 1000, 1025, 4099, 151936}, {0, 1, 8, 40, 64}, .ties = 3, .thin = 1}},
    {OP_TOPK, M_RANGE_256K, .topk = {{151936}, {0}, .rows = 2, .ties = 1}},  /* rows split into columns */
    {OP_TOPK, M_RANGE_256K, .topk = {{151936}, {64}, .rows = 1, .ties = 2}},
    {OP_TOPK, M_RANGE_256K, .topk = {{60001}, {0}, .rows = 6, .ties = 2}},   /* rows in chunks */
    {OP_TOPK, M_RANGE_256K, .topk = {{60001}, {17}, .rows = 6, .ties = 1}},
    /* RoPE: normal/neox, partial dims, frequency factors, theta bases, strided token rows, in place */
    {OP_ROPE, ALL, .rope = {64, 4, 7, 64, 0, 0, 0, 0, {63, 32767}, 10000.0f}},        /* llama-style */
    {OP_ROPE, M_BASE, .rope = {64, 4, 7, 64, 1, 0, 0, 0, {63, 32767}, 1000000.0f}},   /* qwen2-style */
    {OP_ROPE, ALL, .rope = {128, 3, 5, 128, 0, 1, 0, 0, {63, 32767}, 500000.0f}},     /* llama 3.1 rope_freqs */
    {OP_ROPE, M_BASE, .rope = {128, 3, 5, 96, 1, 1, 0, 1, {63, 32767}, 10000.0f}},    /* partial, factors, in place */
    {OP_ROPE, ALL, .rope = {80, 2, 13, 32, 1, 0, 2, 0, {63, 32767}, 10000.0f}},       /* q of a fused qkv */
    {OP_ROPE, M_BASE, .rope = {80, 2, 13, 32, 0, 0, 1, 1, {63, 32767}, 10000.0f}},
    {OP_ROPE, ALL, .rope = {6, 1, 1, 2, 0, 0, 0, 0, {63, 32767}, 10000.0f}},
    {OP_ROPE, M_BASE, .rope = {256, 1, 33, 256, 1, 0, 0, 0, {63, 32767}, 10000.0f}},  /* gemma head_dim */
    {OP_ROPE, ALL, .rope = {64, 4, 7, 64, 0, 0, 0, 0, {63, 32767}, 10000.0f, 1}},     /* linear scaling */
    {OP_ROPE, M_BASE, .rope = {64, 4, 9, 64, 1, 0, 2, 0, {63, 32767}, 1000000.0f, 2}},/* YaRN, strided */
    {OP_ROPE, ALL, .rope = {64, 2, 9, 64, 1, 1, 2, 0, {63, 32767}, 10000.0f, 3}},     /* LongRoPE, strided */
    {OP_ROPE, M_BASE, .rope = {96, 3, 5, 64, 0, 1, 0, 1, {63, 32767}, 10000.0f, 4}},  /* partial YaRN, in place */
    {OP_ROPE, M_RANGE, .rope = {64, 14, 700, 64, 1, 0, 2, 0, {4095}, 1000000.0f, 2}}, /* tokens split */
    /* KV-cache writes into f32/f16 caches: strided src rows, skipped positions, fused RoPE, K and V at once */
    {OP_KV, ALL, .kv = {3, 3, 37, 64, ANY, 1, VKSLM_KV_V, 7, 4}},
    {OP_KV, ALL, .kv = {3, 3, 37, 64, ANY, 0, VKSLM_KV_K, 1, 0, POS_TABLE, 1}},
    {OP_KV, ALL, .kv = {3, 3, 37, 64, ANY, 2, VKSLM_KV_K, 4, 2, POS_TABLE, 2}},
    {OP_KV, ALL, .kv = {1, 1, 5, 2, ANY, 0, VKSLM_KV_V, 2, 1, POS_TABLE, 2}},     /* head_dim 2 */
    {OP_KV, ALL, .kv = {3, 3, 37, 64, ANY, 1, VKSLM_KV_K, 7, 4, .how = KV_ROPE, .ff = 1, .base = 500000.0f}},
    {OP_KV, ALL, .kv = {3, 3, 37, 64, ANY, 2, VKSLM_KV_K, 7, 0, .how = KV_ROPE, .neox = 1, .base = 1000000.0f}},
    {OP_KV, ALL, .kv = {3, 3, 37, 64, ANY, 0, VKSLM_KV_K, 5, 2, POS_TABLE, 1, KV_ROPE, 1, 24, 1, 10000.0f}},
    {OP_KV, ALL, .kv = {3, 3, 37, 64, ANY, 0, VKSLM_KV_K, 5, 2, POS_TABLE, 1, KV_ROPE, 0, 40, 0, 10000.0f}},
    {OP_KV, ALL, .kv = {3, 3, 37, 64, ANY, 1, VKSLM_KV_K, 7, 4, .how = KV_PAIR, .base = 500000.0f}},
    {OP_KV, ALL, .kv = {3, 3, 37, 64, ANY, 2, VKSLM_KV_K, 3, 6, POS_TABLE, 2, KV_PAIR, 1, 24, 0, 10000.0f}},
    /* scaled: linear factor 2, YaRN factor 4, LongRoPE's attention factor with the divisors */
    {OP_KV, ALL, .kv = {3, 3, 37, 64, ANY, 1, VKSLM_KV_K, 7, 4, .how = KV_ROPE, .base = 10000.0f, .scaling = 1}},
    {OP_KV, ALL, .kv = {3, 3, 37, 64, ANY, 2, VKSLM_KV_K, 7, 2, .how = KV_ROPE, .neox = 1, .base = 1000000.0f, .scaling = 2}},
    {OP_KV, ALL, .kv = {3, 3, 37, 64, ANY, 0, VKSLM_KV_K, 5, 0, POS_TABLE, 1, KV_ROPE, 1, 48, 1, 10000.0f, 5}},
    {OP_KV, ALL, .kv = {3, 3, 37, 64, ANY, 0, VKSLM_KV_K, 7, 4, .how = KV_PAIR, .neox = 1, .base = 1000000.0f, .scaling = 2}},
    {OP_KV, M_RANGE, .kv = {2, 8, 2048, 128, F16, 1, VKSLM_KV_K, 300, 14, POS_SPREAD}}, /* heads, tokens split */
    {OP_KV, M_RANGE, .kv = {1, 8, 1000, 128, F32, 0, VKSLM_KV_V, 300, 14, POS_DOWN}},
    /* attention, decode: GQA, split keys (or no scratch), custom scale, sliding window, soft-cap */
    {OP_ATTN, ALL, DECODE(64, 6, 2, 1, 0, 0, 0, ANY, 8)},               /* a single key */
    {OP_ATTN, M_BASE, DECODE(128, 6, 3, 777, 0, 0, 0, ANY, 32)},
    {OP_ATTN, ALL, DECODE(128, 6, 3, 777, 0, 0, 0, ANY, 0)},
    {OP_ATTN, M_BASE, DECODE(80, 4, 4, 301, 0, 0.2f, 0, ANY, 32)},
    {OP_ATTN, ALL, DECODE(64, 6, 2, 1001, 129, 0, 0, ANY, 32)},
    {OP_ATTN, M_BASE, DECODE(256, 8, 4, 513, 0, 0.0625f, 50.0f, ANY, 32)}, /* gemma2-like */
    {OP_ATTN, ALL, DECODE(96, 12, 1, 200, 0, 0, 0, ANY, 4)},              /* 12 q heads on one kv head */
    /* attention, prefill: causal, chunks after the first, windows, soft-cap, one token at position 0 */
    {OP_ATTN, ALL, PREFILL(64, 6, 2, 37, 0, 0, 0, 0, ANY, 0)},
    {OP_ATTN, M_BASE, PREFILL(128, 6, 3, 19, 100, 0, 0, 0, ANY, 8)},
    {OP_ATTN, ALL, PREFILL(96, 5, 1, 50, 13, 31, 0, 0, ANY, 0)},
    {OP_ATTN, M_BASE, PREFILL(256, 4, 2, 9, 200, 0, 0.0625f, 30.0f, ANY, 16)},
    {OP_ATTN, ALL, PREFILL(80, 3, 3, 1, 0, 0, 0.3f, 0, ANY, 0)},
    {OP_ATTN, M_BASE, PREFILL(64, 6, 3, 65, 40, 17, 0, 20.0f, ANY, 4)},
    {OP_ATTN, ALL, PREFILL(128, 4, 2, 11, 30, 1, 0, 0, ANY, 4)},          /* window 1: itself only */
    /* several subgroups per workgroup split a workgroup's keys */
    {OP_ATTN, M_BASE, DECODE(64, 6, 2, 1, 0, 0, 0, ANY, 8), .attn.subgroups = 4},
    {OP_ATTN, M_BASE, DECODE(128, 6, 3, 777, 0, 0, 0, ANY, 0), .attn.subgroups = 4},
    {OP_ATTN, M_BASE, DECODE(64, 6, 2, 1001, 129, 0, 0, ANY, 32), .attn.subgroups = 4},
    {OP_ATTN, M_BASE, PREFILL(64, 6, 2, 37, 0, 0, 0, 0, ANY, 0), .attn.subgroups = 3},
    {OP_ATTN, M_BASE, PREFILL(96, 5, 1, 50, 13, 31, 0, 0, ANY, 0), .attn.subgroups = 3},
    {OP_ATTN, M_BASE, PREFILL(128, 4, 2, 11, 30, 1, 0, 0, ANY, 4), .attn.subgroups = 3},
    /* a 1 MiB range: 2 MiB of K per kv head bound in key pieces (at least 3 per head) and combined */
    {OP_ATTN, M_RANGE, DECODE(128, 4, 2, 4100, 0, 0, 0, F32, 16), .attn.min_attn = 6, .attn.min_combine = 1},
    {OP_ATTN, M_RANGE, DECODE(128, 4, 2, 4100, 0, 0, 0, F16, 16), .attn.min_attn = 4},
    {OP_ATTN, M_RANGE, PREFILL(128, 4, 2, 7, 4093, 0, 0, 0, F32, 16), .attn.min_attn = 6},
    /* q and out of 1.1 MiB each: two token chunks, no split */
    {OP_ATTN, M_RANGE, PREFILL(64, 64, 4, 70, 0, 0, 0, 0, F16, 0), .attn.exact_attn = 2, .attn.no_combine = 1},
    {OP_ATTN, M_RANGE, DECODE(128, 4, 2, 4100, 300, 0, 0, F32, 16)},       /* only the window's pieces */
    /* without scratch a key range the range cannot hold is refused, not truncated */
    {OP_ATTN, M_RANGE, DECODE(128, 4, 2, 4100, 0, 0, 0, F32, 0), .attn.expect = VKSLM_ERR_LIMIT},
};

/* ---- helpers --------------------------------------------------------------------------------------- */
static uint32_t list_len(const uint32_t *l) {
    uint32_t n = 0;
    while (n < LIST && l[n])
        n++;
    return n;
}

static const char *tname(uint32_t type) { return vkslm_type_info(type)->name; }

/* ---- norm ------------------------------------------------------------------------------------------ */
static void run_norm(vkslm_vk *vk, const norm_case *k, uint64_t salt) {
    for (uint32_t i = 0; i < list_len(k->n); i++)
        for (uint32_t j = 0; j < list_len(k->rows); j++) {
            uint64_t n = k->n[i], rows = k->rows[j], N = n * rows;
            int alias = (i + j) & 1; /* d is a (rms_norm) or r (the fused add) */
            vkslm_rng r;
            test_rng(&r, salt * 100 + i * 10 + j);
            float *a = malloc(N * 4), *w = malloc(n * 4), *res = malloc(N * 4), *ref = malloc(N * 4),
                  *out = malloc(N * 4);
            test_random_floats(&r, a, N, -3.0f, 5.0f, F32);
            test_random_floats(&r, w, n, -2.0f, 2.0f, F32);
            test_random_floats(&r, res, N, -2.0f, 2.0f, F32);
            float eps = k->add ? 1e-6f : 1e-5f;
            float *sum = malloc(N * 4); /* what is normalised: a, or the residual stream a + r */
            for (uint64_t e = 0; e < N; e++)
                sum[e] = k->add ? a[e] + res[e] : a[e];
            vkslm_cpu_rms_norm(ref, sum, k->w ? w : NULL, n, rows, eps);
            ot_tensor ta = ot_floats(vk, a, F32, n, rows, 1, 4), tw = ot_floats(vk, w, F32, n, 1, 1, PAD * 4);
            ot_tensor tr = ot_floats(vk, res, F32, n, rows, 1, 0);
            ot_tensor td = alias ? (k->add ? tr : ta) : ot_out(vk, F32, n, rows, 1, 8);
            vkslm_cmd *c = ot_begin(vk);
            const vkslm_tensor *wt = k->w ? &tw.t : NULL;
            vkslm_status st = k->add ? vkslm_op_rms_norm_add(c, &td.t, &ta.t, &tr.t, wt, eps)
                                     : vkslm_op_rms_norm(c, &td.t, &ta.t, wt, eps);
            char what[96];
            snprintf(what, sizeof what, "n=%llu rows=%llu w=%d alias=%d", (unsigned long long)n,
                     (unsigned long long)rows, k->w, alias);
            CU_ASSERT_EQUAL(ot_submit(c, st, what), VKSLM_OK);
            double e = ot_read(vk, &td, out, N, what) ? test_nmse(out, ref, N) : INFINITY;
            ot_check(k->add ? "add_norm" : "norm", e, 1e-10, what);
            if (k->add) { /* the residual stream, written back exactly */
                ot_read(vk, &ta, out, N, what);
                CU_ASSERT_EQUAL(memcmp(out, sum, N * 4), 0);
            }
            ot_free(vk, &ta), ot_free(vk, &tw), ot_free(vk, &tr);
            if (!alias)
                ot_free(vk, &td);
            free(a), free(w), free(res), free(ref), free(out), free(sum);
        }
}

/* ---- gated activations ------------------------------------------------------------------------------ */
static void run_glu(vkslm_vk *vk, const glu_case *k, uint64_t salt) {
    for (uint32_t i = 0; i < list_len(k->n); i++)
        for (uint32_t j = 0; j < list_len(k->rows); j++) {
            uint64_t n = k->n[i], rows = k->rows[j], N = n * rows, gn = k->fused ? 2 * N : N;
            vkslm_rng r;
            test_rng(&r, salt * 100 + i * 10 + j);
            float *g = malloc(gn * 4), *u = malloc(N * 4), *ref = malloc(N * 4), *out = malloc(N * 4);
            test_random_floats(&r, g, gn, -8.0f, 8.0f, F32);
            test_random_floats(&r, u, N, -3.0f, 3.0f, F32);
            static const float extremes[] = {-1e4f, -90.0f, -30.0f, 0.0f, 30.0f, 90.0f, 1e4f};
            for (uint64_t e = 0; gn >= 64 && e < 7; e++)
                g[e * (gn / 7)] = extremes[e]; /* no NaN from overflow */
            if (k->gelu)
                vkslm_cpu_geglu(ref, g, k->fused ? NULL : u, n, rows);
            else
                vkslm_cpu_swiglu(ref, g, k->fused ? NULL : u, n, rows);
            ot_tensor tg = ot_floats(vk, g, F32, k->fused ? 2 * n : n, rows, 1, 4);
            ot_tensor tu = ot_floats(vk, u, F32, n, rows, 1, PAD * 4), td = ot_out(vk, F32, n, rows, 1, 8);
            vkslm_cmd *c = ot_begin(vk);
            const vkslm_tensor *up = k->fused ? NULL : &tu.t;
            vkslm_status st = k->gelu ? vkslm_op_geglu(c, &td.t, &tg.t, up) : vkslm_op_swiglu(c, &td.t, &tg.t, up);
            char what[96];
            snprintf(what, sizeof what, "%s n=%llu rows=%llu fused=%d", k->gelu ? "geglu" : "swiglu",
                     (unsigned long long)n, (unsigned long long)rows, k->fused);
            CU_ASSERT_EQUAL(ot_submit(c, st, what), VKSLM_OK);
            double e = ot_read(vk, &td, out, N, what) ? test_nmse(out, ref, N) : INFINITY;
            ot_check("glu", e, N < 16 ? 1e-7 : 1e-10, what);
            ot_free(vk, &tg), ot_free(vk, &tu), ot_free(vk, &td);
            free(g), free(u), free(ref), free(out);
        }
}

/* ---- elementwise ------------------------------------------------------------------------------------ */
static void run_ew_one(vkslm_vk *vk, ew_kind op, uint32_t ta, uint32_t td, uint64_t n, uint64_t nb, uint64_t salt) {
    static const char *const names[] = {"add", "scale", "softcap"};
    vkslm_rng r;
    test_rng(&r, salt);
    float *a = malloc(n * 4), *b = malloc(nb * 4), *ref = malloc(n * 4), *out = malloc(n * 4);
    test_random_floats(&r, a, n, -4.0f, 4.0f, ta);
    test_random_floats(&r, b, nb, -4.0f, 4.0f, ta);
    switch (op) {
    case EW_ADD: vkslm_cpu_add(ref, a, b, n, nb); break;
    case EW_SCALE: vkslm_cpu_scale(ref, a, 0.37f, n); break;
    case EW_SOFTCAP: vkslm_cpu_softcap(ref, a, 1.7f, n); break;
    }
    if (td == F16)
        vkslm_cpu_round_f16(ref, n);
    ot_tensor tA = ot_floats(vk, a, ta, n, 1, 1, 8), tB = ot_floats(vk, b, ta, nb, 1, 1, 4);
    ot_tensor tD = ot_out(vk, td, n, 1, 1, 16);
    vkslm_cmd *c = ot_begin(vk);
    vkslm_status st = op == EW_ADD     ? vkslm_op_add(c, &tD.t, &tA.t, &tB.t)
                      : op == EW_SCALE ? vkslm_op_scale(c, &tD.t, &tA.t, 0.37f)
                                       : vkslm_op_softcap(c, &tD.t, &tA.t, 1.7f);
    char what[96];
    snprintf(what, sizeof what, "%s %s->%s n=%llu nb=%llu", names[op], tname(ta), tname(td), (unsigned long long)n,
             (unsigned long long)nb);
    CU_ASSERT_EQUAL(ot_submit(c, st, what), VKSLM_OK);
    double e = INFINITY;
    if (ot_read(vk, &tD, out, n, what)) {
        e = test_nmse(out, ref, n);
        uint64_t bad = 0; /* and element by element: one f16 step at most */
        for (uint64_t i = 0; i < n; i++)
            bad += !(fabsf(out[i] - ref[i]) <= (td == F16 ? fabsf(ref[i]) / 1024 + 1e-7f : 0) +
                                                     (op == EW_SOFTCAP ? 4e-6f * (fabsf(ref[i]) + 1) : 0));
        if (bad)
            e = INFINITY;
    }
    /* (softcap over a few elements: their NMSE is their squared relative error, which tanh through exp loses near
     * 0, so a random value near 0 failed 1e-10 by chance (2.2e-10 at n = 1); the element check above bounds each) */
    ot_check(names[op], e, td == F16 ? 1e-6 : op == EW_SOFTCAP ? (n < 16 ? 1e-6 : 1e-10) : 1e-14, what);
    ot_free(vk, &tA), ot_free(vk, &tB), ot_free(vk, &tD);
    free(a), free(b), free(ref), free(out);
}

static void run_ew(vkslm_vk *vk, const ew_case *k, uint64_t salt) {
    static const uint32_t types[2] = {F32, F16};
    for (int ia = 0; ia < 2; ia++)
        for (int id = 0; id < 2; id++) {
            if ((k->ta != ANY && k->ta != types[ia]) || (k->td != ANY && k->td != types[id]))
                continue;
            for (uint32_t i = 0; i < list_len(k->n); i++) {
                uint64_t n = k->n[i], div = 0;
                for (uint64_t d = 2; d < n && !div; d++) /* a period that divides n, neither 1 nor n */
                    if (n % d == 0 && d > n / 64)
                        div = d;
                uint64_t nbs[4] = {k->nb_modes & NB_SAME ? n : 0, k->nb_modes & NB_ONE ? 1 : 0,
                                   k->nb_modes & NB_DIVISOR ? div : 0, k->nb};
                for (int j = 0; j < 4; j++)
                    if (nbs[j])
                        run_ew_one(vk, k->op, types[ia], types[id], n, nbs[j], salt * 1000 + i * 40 + ia * 8 + id * 4 + j);
            }
        }
}

/* ---- embedding rows --------------------------------------------------------------------------------- */
static void run_get_rows_one(vkslm_vk *vk, uint32_t type, uint64_t k, uint64_t n_rows, uint64_t n_ids, uint64_t w_off,
                             uint64_t salt) {
    vkslm_rng r;
    test_rng(&r, salt);
    uint8_t *w = test_random_weights(&r, type, n_rows, k);
    int32_t *ids = malloc(n_ids * 4);
    float *ref = malloc(n_ids * k * 4), *out = malloc(n_ids * k * 4);
    for (uint64_t i = 0; i < n_ids; i++) {
        ids[i] = (int32_t)(vkslm_rng_u64(&r) % n_rows);
        if (i == 2)
            ids[i] = -1;
        if (i == 4)
            ids[i] = (int32_t)n_rows; /* one past the end */
        if (i == 3 || i == n_ids - 1)
            ids[i] = (int32_t)n_rows - 1;
        if (ids[i] < 0 || (uint64_t)ids[i] >= n_rows)
            memset(ref + i * k, 0, k * 4);
        else
            CU_ASSERT_FATAL(vkslm_cpu_get_rows(ref + i * k, type, w, k, n_rows, &ids[i], 1) == VKSLM_OK);
    }
    ot_tensor tw = ot_raw(vk, w, test_row_bytes(type, k) * n_rows, type, k, n_rows, w_off);
    ot_tensor ti = ot_raw(vk, ids, n_ids * 4, VKSLM_TYPE_I32, n_ids, 1, 12);
    ot_tensor td = ot_out(vk, F32, k, n_ids, 1, 4);
    vkslm_cmd *c = ot_begin(vk);
    char what[96];
    snprintf(what, sizeof what, "%s k=%llu rows=%llu ids=%llu", tname(type), (unsigned long long)k,
             (unsigned long long)n_rows, (unsigned long long)n_ids);
    CU_ASSERT_EQUAL(ot_submit(c, vkslm_op_get_rows(c, &td.t, &tw.t, &ti.t), what), VKSLM_OK);
    double e = ot_read(vk, &td, out, n_ids * k, what) ? test_nmse(out, ref, n_ids * k) : INFINITY;
    ot_check("get_rows", e, 1e-12, what);
    ot_free(vk, &tw), ot_free(vk, &ti), ot_free(vk, &td);
    free(w), free(ids), free(ref), free(out);
}

static void run_get_rows(vkslm_vk *vk, const get_rows_case *k, uint64_t salt) {
    for (int t = 0; t < test_n_weight_types; t++) {
        uint32_t type = test_weight_types[t];
        if (k->type == ANY ? !test_weight_type_swept(t) : type != k->type)
            continue;
        uint32_t be = vkslm_type_info(type)->block_elems;
        uint64_t off = k->w_off ? k->w_off : k->w_mult * (be == 1 ? 4u : 2u);
        run_get_rows_one(vk, type, be == 256 ? k->k256 : k->k, k->n_rows, k->n_ids, off, salt * 100 + (uint64_t)t);
    }
}

/* ---- weight products -------------------------------------------------------------------------------- */
static double run_matmul_one(vkslm_vk *vk, uint32_t type, vkslm_matmul_kernel kernel, uint32_t max_vec, uint64_t k,
                             uint64_t n, uint64_t m, int with_bias, uint64_t w_off, uint64_t x_off, uint64_t d_off,
                             uint64_t salt, const char *what) {
    vkslm_rng r;
    test_rng(&r, salt);
    uint8_t *w = test_random_weights(&r, type, n, k);
    float *x = malloc(k * m * 4), *bias = malloc(n * 4), *ref = malloc(n * m * 4), *out = malloc(n * m * 4);
    CU_ASSERT_FATAL(x && bias && ref && out);
    test_random_floats(&r, x, k * m, -1.0f, 1.0f, F32);
    test_random_floats(&r, bias, n, -1.0f, 1.0f, F32);
    CU_ASSERT_FATAL(vkslm_cpu_matmul(ref, type, w, x, with_bias ? bias : NULL, k, n, m) == VKSLM_OK);
    ot_tensor tw = ot_raw(vk, w, test_row_bytes(type, k) * n, type, k, n, w_off);
    ot_tensor tx = ot_floats(vk, x, F32, k, m, 1, x_off), tb = ot_floats(vk, bias, F32, n, 1, 1, 12);
    ot_tensor td = ot_out(vk, F32, n, m, 1, d_off);
    vkslm_cmd *c = ot_begin(vk);
    vkslm_status st = vkslm_op_matmul_ex(c, &td.t, &tw.t, &tx.t, with_bias ? &tb.t : NULL, kernel, max_vec);
    CU_ASSERT_EQUAL(ot_submit(c, st, what), VKSLM_OK);
    double e = st == VKSLM_OK && ot_read(vk, &td, out, n * m, what) ? test_nmse(out, ref, n * m) : INFINITY;
    ot_free(vk, &tw), ot_free(vk, &tx), ot_free(vk, &tb), ot_free(vk, &td);
    free(w), free(x), free(bias), free(ref), free(out);
    return e;
}

/* The m vectors in one call (groups of 8), then again in dispatches of 1, 2, 3, 5, 7 and 8 vectors in several
 * patterns (so that every vector sits at many places of groups of many sizes): each output must have the
 * bits of the one call. Returns the one call's NMSE against engine/cpu. */
static double run_matmul_stable(vkslm_vk *vk, uint32_t type, vkslm_matmul_kernel kernel, uint64_t k, uint64_t n,
                                uint64_t m, int with_bias, uint64_t w_off, uint64_t salt, const char *what) {
    static const uint8_t patterns[][4] = {{1}, {3}, {2, 5}, {8, 1, 3}, {7}, {5, 8, 2}};
    vkslm_rng r;
    test_rng(&r, salt);
    uint8_t *w = test_random_weights(&r, type, n, k);
    float *x = malloc(k * m * 4), *bias = malloc(n * 4), *ref = malloc(n * m * 4);
    float *all = malloc(n * m * 4), *part = malloc(n * m * 4);
    CU_ASSERT_FATAL(x && bias && ref && all && part);
    test_random_floats(&r, x, k * m, -1.0f, 1.0f, F32);
    test_random_floats(&r, bias, n, -1.0f, 1.0f, F32);
    CU_ASSERT_FATAL(vkslm_cpu_matmul(ref, type, w, x, with_bias ? bias : NULL, k, n, m) == VKSLM_OK);
    ot_tensor tw = ot_raw(vk, w, test_row_bytes(type, k) * n, type, k, n, w_off);
    ot_tensor tx = ot_floats(vk, x, F32, k, m, 1, 16), tb = ot_floats(vk, bias, F32, n, 1, 1, 12);
    ot_tensor ta = ot_out(vk, F32, n, m, 1, 8), tp = ot_out(vk, F32, n, m, 1, 4);
    const vkslm_tensor *b = with_bias ? &tb.t : NULL;
    vkslm_cmd *c = ot_begin(vk);
    vkslm_status st = vkslm_op_matmul_ex(c, &ta.t, &tw.t, &tx.t, b, kernel, 0);
    CU_ASSERT_EQUAL(ot_submit(c, st, what), VKSLM_OK);
    double e = st == VKSLM_OK && ot_read(vk, &ta, all, n * m, what) ? test_nmse(all, ref, n * m) : INFINITY;
    for (size_t p = 0; p < sizeof patterns / sizeof *patterns && st == VKSLM_OK; p++) {
        c = ot_begin(vk);
        for (uint64_t v = 0, i = 0; v < m && st == VKSLM_OK; i++) {
            uint64_t cnt = patterns[p][i % 4] ? patterns[p][i % 4] : patterns[p][0];
            cnt = cnt < m - v ? cnt : m - v;
            vkslm_tensor xv = {tx.t.buf, tx.t.offset + v * k * 4, F32, {k, cnt, 1, 1}};
            vkslm_tensor dv = {tp.t.buf, tp.t.offset + v * n * 4, F32, {n, cnt, 1, 1}};
            st = vkslm_op_matmul_ex(c, &dv, &tw.t, &xv, b, kernel, 0);
            v += cnt;
        }
        CU_ASSERT_EQUAL(ot_submit(c, st, what), VKSLM_OK);
        if (st != VKSLM_OK || !ot_read(vk, &tp, part, n * m, what))
            break;
        uint64_t bad = 0, first = 0;
        for (uint64_t i = n * m; i-- > 0;)
            if (memcmp(&part[i], &all[i], 4)) {
                bad++;
                first = i;
            }
        if (bad)
            printf("\n  %s: pattern %zu: %llu of %llu outputs differ in their bits from the batch of %llu, first "
                   "(row %llu, vector %llu): %.9g vs %.9g\n", what, p, (unsigned long long)bad,
                   (unsigned long long)(n * m), (unsigned long long)m, (unsigned long long)(first % n),
                   (unsigned long long)(first / n), part[first], all[first]);
        CU_ASSERT_EQUAL(bad, 0);
    }
    ot_free(vk, &tw), ot_free(vk, &tx), ot_free(vk, &tb), ot_free(vk, &ta), ot_free(vk, &tp);
    free(w), free(x), free(bias), free(ref), free(all), free(part);
    return e;
}

static void run_matmul(vkslm_vk *vk, const matmul_case *k, uint64_t salt) {
    uint32_t swept = 0;
    for (int t = 0; t < test_n_weight_types; t++) {
        uint32_t type = test_weight_types[t];
        if (k->type == ANY ? !test_weight_type_swept(t) : type != k->type)
            continue;
        if (k->every && swept++ % k->every)
            continue;
        uint32_t be = vkslm_type_info(type)->block_elems;
        vkslm_matmul_kernel kernel = k->kernel;
        if (kernel == (vkslm_matmul_kernel)ALT_VEC)
            kernel = (t + k->phase) & 1 ? VKSLM_MATMUL_ROW_PER_SUBGROUP : VKSLM_MATMUL_ROW_PER_LANE;
        uint64_t kk = be == 256 ? k->k256 : k->k, w_off = k->w_off ? k->w_off : k->w_mult * (be == 1 ? 4u : 2u);
        char what[128];
        snprintf(what, sizeof what, "%s kernel %d k=%llu n=%u m=%u bias=%u max_vec=%u offsets %llu/%u/%u", tname(type),
                 (int)kernel, (unsigned long long)kk, k->n, k->m, k->bias, k->max_vec, (unsigned long long)w_off,
                 k->x_off, k->d_off);
        double e = k->stable ? run_matmul_stable(vk, type, kernel, kk, k->n, k->m, (int)k->bias, w_off,
                                                 salt * 100 + (uint64_t)t, what)
                             : run_matmul_one(vk, type, kernel, k->max_vec, kk, k->n, k->m, (int)k->bias, w_off,
                                              k->x_off, k->d_off, salt * 100 + (uint64_t)t, what);
        ot_check("matmul", e, k->bound > 0 ? k->bound : 1e-9, what);
    }
}

/* ---- top-k ------------------------------------------------------------------------------------------ */
static void run_topk_one(vkslm_vk *vk, uint64_t n, uint64_t rows, uint32_t kk, int ties, uint64_t salt) {
    vkslm_rng r;
    test_rng(&r, salt);
    int argmax = kk == 0; /* the argmax as decoding asks for it: ids only */
    uint32_t k = argmax ? 1 : kk;
    uint64_t N = n * rows;
    float *a = malloc(N * 4), *vref = malloc(rows * k * 4), *vout = malloc(rows * k * 4);
    int32_t *iref = malloc(rows * k * 4), *iout = malloc(rows * k * 4);
    test_random_floats(&r, a, N, -30.0f, 30.0f, F32);
    for (uint64_t i = 0; i < N; i++) {
        if (ties)
            a[i] = floorf(a[i] / 4.0f); /* many equal values */
        if (vkslm_rng_u64(&r) % 997 == 0)
            a[i] = NAN;
    }
    vkslm_cpu_topk(iref, vref, a, n, rows, k);
    /* rows of whole texels on 16 bytes (n a multiple of 4) take CPU devices' texel argmax; the others the passes */
    ot_tensor ta = ot_floats(vk, a, F32, n, rows, 1, n % 4 ? 4 : 16);
    ot_tensor ti = ot_out(vk, VKSLM_TYPE_I32, k, rows, 1, 8), tv = ot_out(vk, F32, k, rows, 1, 0);
    vkslm_buf scratch;
    CU_ASSERT_FATAL(vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, vkslm_op_topk_scratch_bytes(n, rows, k), &scratch) == VKSLM_OK);
    vkslm_cmd *c = ot_begin(vk);
    char what[96];
    snprintf(what, sizeof what, "%s n=%llu rows=%llu k=%u ties=%d", argmax ? "argmax" : "topk", (unsigned long long)n,
             (unsigned long long)rows, k, ties);
    CU_ASSERT_EQUAL(ot_submit(c, vkslm_op_topk(c, &ti.t, argmax ? NULL : &tv.t, &ta.t, k, &scratch), what), VKSLM_OK);
    uint64_t bad = 0;
    if (!ot_read(vk, &ti, iout, rows * k, what) || (!argmax && !ot_read(vk, &tv, vout, rows * k, what)))
        bad = 1;
    for (uint64_t i = 0; i < rows * k; i++)
        if (iout[i] != iref[i] || (!argmax && memcmp(&vout[i], &vref[i], 4))) {
            if (bad++ < 3)
                fprintf(stderr, "%s: [%llu] got %d (%g) want %d (%g)\n", what, (unsigned long long)i, iout[i],
                        argmax ? 0.0 : vout[i], iref[i], vref[i]);
        }
    ot_check(argmax ? "argmax" : "topk", bad ? INFINITY : 0.0, 0.0, what);
    vkslm_vk_free(vk, &scratch);
    ot_free(vk, &ta), ot_free(vk, &ti), ot_free(vk, &tv);
    free(a), free(vref), free(vout), free(iref), free(iout);
}

static void run_topk(vkslm_vk *vk, const topk_case *k, uint64_t salt) {
    for (uint32_t i = 0; i < list_len(k->n); i++)
        for (uint32_t j = 0; j < LIST && (j == 0 || k->k[j]); j++) {
            if (k->k[j] > k->n[i] || (k->thin && (i + j) % 2))
                continue;
            uint64_t rows = k->rows ? k->rows : k->n[i] > 5000 ? 2 : 3;
            for (int ties = 0; ties < 2; ties++)
                if (k->ties & (1u << ties))
                    run_topk_one(vk, k->n[i], rows, k->k[j], ties, salt * 1000 + i * 20 + j * 2 + (uint64_t)ties);
        }
}

/* ---- RoPE ------------------------------------------------------------------------------------------- */
static void run_rope(vkslm_vk *vk, const rope_case *k, uint64_t salt) {
    for (int p = 0; p < 2 && k->max_pos[p]; p++) {
        int32_t max_pos = (int32_t)k->max_pos[p];
        vkslm_rng r;
        test_rng(&r, salt * 10 + (uint64_t)p);
        uint64_t row = (uint64_t)k->nh * k->hd, as = row + (uint64_t)k->extra_heads * k->hd;
        uint64_t ds = k->in_place ? as : row, na = as * k->nt, nd = ds * k->nt;
        float *a = malloc(na * 4), *ff = malloc(k->hd * 2 + 4), *ref = malloc(nd * 4), *out = malloc(nd * 4);
        int32_t *pos = malloc(k->nt * 4);
        test_random_floats(&r, a, na, -2.0f, 2.0f, F32);
        for (uint32_t i = 0; i < k->n_rot / 2; i++)
            ff[i] = vkslm_rng_range(&r, 1.0f, 8.0f);
        for (uint32_t t = 0; t < k->nt; t++)
            pos[t] = t == 0 ? 0 : (int32_t)(vkslm_rng_u64(&r) % (uint64_t)(max_pos + 1));
        for (uint64_t i = 0; i < nd; i++)
            ref[i] = k->in_place ? a[i] : 0.0f;
        vkslm_cpu_rope(ref, a, pos, k->ff ? ff : NULL, k->hd, k->nh, k->nt, k->n_rot, (int)k->neox, k->base,
                       &scalings[k->scaling], as, ds);
        ot_tensor ta = ot_floats(vk, a, F32, as, k->nt, 1, 4); /* token rows of `as` elements */
        ta.t.ne[0] = k->hd, ta.t.ne[1] = k->nh, ta.t.ne[2] = k->nt;
        ot_tensor tp = ot_raw(vk, pos, k->nt * 4, VKSLM_TYPE_I32, k->nt, 1, 8);
        ot_tensor tf = ot_floats(vk, ff, F32, k->n_rot / 2, 1, 1, 12);
        ot_tensor td = k->in_place ? ta : ot_out(vk, F32, ds, k->nt, 1, 0);
        vkslm_tensor dt = td.t;
        dt.ne[0] = k->hd, dt.ne[1] = k->nh, dt.ne[2] = k->nt;
        vkslm_rope_params prm = rope_params(k->neox, k->n_rot, k->base, k->scaling);
        prm.a_token_stride = as, prm.d_token_stride = ds;
        vkslm_cmd *c = ot_begin(vk);
        char what[128];
        snprintf(what, sizeof what, "hd=%u nh=%u nt=%u n_rot=%u neox=%u ff=%u extra=%u in_place=%u scaling=%u max_pos=%d",
                 k->hd, k->nh, k->nt, k->n_rot, k->neox, k->ff, k->extra_heads, k->in_place, k->scaling, max_pos);
        CU_ASSERT_EQUAL(ot_submit(c, vkslm_op_rope(c, &dt, &ta.t, &tp.t, k->ff ? &tf.t : NULL, &prm), what), VKSLM_OK);
        /* in place, the extra heads of each token row must stay as they were */
        double e = ot_read(vk, &td, out, nd, what) ? test_nmse(out, ref, nd) : INFINITY;
        ot_check("rope", e, max_pos < 64 ? 1e-10 : 1e-6, what);
        ot_free(vk, &ta), ot_free(vk, &tp), ot_free(vk, &tf);
        if (!k->in_place)
            ot_free(vk, &td);
        free(a), free(ff), free(ref), free(out), free(pos);
    }
}

/* ---- KV-cache writes -------------------------------------------------------------------------------- */
static void kv_positions(const kv_case *k, int32_t *pos) {
    static const int32_t table[] = {0, 36, 7, 8, 40, -1, 35}; /* -1 and 40 (>= n_ctx 37) are skipped */
    for (uint32_t i = 0; i < k->n_tokens; i++)
        pos[i] = k->pos_kind == POS_TABLE    ? table[k->pos_at + i]
                 : k->pos_kind == POS_SPREAD ? (int32_t)((i * 7) % 2047 + 1)
                                             : (int32_t)(999 - i * 3);
}

static void run_kv_one(vkslm_vk *vk, const kv_case *k, uint32_t type, uint64_t salt) {
    vkslm_kv_layout l = {k->n_layer, k->n_kv, k->n_ctx, k->hd, type};
    vkslm_rng r;
    test_rng(&r, salt);
    int32_t pos[300];
    kv_positions(k, pos);
    /* src rows as in a fused QKV output: q heads, then k heads (then v heads for a pair) */
    uint64_t hd = l.head_dim, kv = (uint64_t)l.n_kv_head * hd, q_off = (uint64_t)k->n_q_heads * hd;
    uint64_t ts = q_off + kv * (k->how == KV_PAIR ? 2 : 1), ns = ts * k->n_tokens;
    uint64_t nc = vkslm_kv_bytes(&l) / vkslm_kv_elem_bytes(&l), part = vkslm_kv_part_bytes(&l) / vkslm_kv_elem_bytes(&l);
    float *src = malloc(ns * 4), *roped = malloc(ns * 4), *ref = malloc(nc * 4), *out = malloc(nc * 4), ff[128];
    test_random_floats(&r, src, ns, -3.0f, 3.0f, F32);
    for (int i = 0; i < 128; i++)
        ff[i] = vkslm_rng_range(&r, 1.0f, 4.0f);
    for (uint64_t i = 0; i < nc; i++)
        ref[i] = NAN;
    memcpy(roped, src, ns * 4);
    uint32_t n_rot = k->n_rot ? k->n_rot : k->hd, which = k->how == KV_PAIR ? VKSLM_KV_K : k->which;
    int f16 = type == F16;
    if (k->how != KV_PLAIN)
        vkslm_cpu_rope(roped + q_off, src + q_off, pos, k->ff ? ff : NULL, k->hd, l.n_kv_head, k->n_tokens, n_rot,
                       (int)k->neox, k->base, &scalings[k->scaling], ts, ts);
    vkslm_cpu_kv_write(ref + part * (2 * k->layer + which), roped + q_off, pos, k->hd, l.n_ctx, l.n_kv_head,
                       k->n_tokens, ts, f16);
    if (k->how == KV_PAIR)
        vkslm_cpu_kv_write(ref + part * (2 * k->layer + 1), src + q_off + kv, pos, k->hd, l.n_ctx, l.n_kv_head,
                           k->n_tokens, ts, f16);
    ot_tensor tsrc = ot_floats(vk, src, F32, ns, 1, 1, 4), tp = ot_raw(vk, pos, k->n_tokens * 4, VKSLM_TYPE_I32,
                                                                       k->n_tokens, 1, 8);
    ot_tensor tf = ot_floats(vk, ff, F32, n_rot / 2, 1, 1, 0), cache = ot_out(vk, type, nc, 1, 1, 0);
    vkslm_tensor dst = vkslm_kv_tensor(&l, cache.buf, 0, k->layer, which);
    vkslm_tensor s = {tsrc.buf, tsrc.t.offset + q_off * 4, F32,
                      {hd, (uint64_t)l.n_kv_head * (k->how == KV_PAIR ? 2 : 1), k->n_tokens, 1}};
    vkslm_rope_params rope = rope_params(k->neox, k->n_rot, k->base, k->scaling);
    const vkslm_tensor *fp = k->ff ? &tf.t : NULL;
    vkslm_cmd *c = ot_begin(vk);
    vkslm_status st = k->how == KV_PLAIN  ? vkslm_op_kv_write(c, &dst, &s, &tp.t, ts)
                      : k->how == KV_ROPE ? vkslm_op_kv_write_rope(c, &dst, &s, &tp.t, ts, fp, &rope)
                                          : vkslm_op_kv_write_rope_kv(c, &dst, &s, &tp.t, ts, fp, &rope);
    char what[128];
    snprintf(what, sizeof what, "%s layer %u which %u tokens %u q heads %u how %u neox %u n_rot %u ff %u scaling %u",
             tname(type), k->layer, which, k->n_tokens, k->n_q_heads, k->how, k->neox, n_rot, k->ff, k->scaling);
    CU_ASSERT_EQUAL(ot_submit(c, st, what), VKSLM_OK);
    double e = INFINITY;
    if (ot_read(vk, &cache, out, nc, what)) {
        /* rows written: within tolerance; everything else: still poison */
        float extra = k->how == KV_PLAIN ? 0.0f : 5e-5f;
        uint64_t bad = 0, m = 0;
        double num = 0, den = 0;
        for (uint64_t i = 0; i < nc; i++) {
            float tol = (f16 ? fabsf(ref[i]) / 1024 : 0.0f) + extra;
            int ok = isnan(ref[i]) ? isnan(out[i]) : fabsf(out[i] - ref[i]) <= tol;
            if (!ok && bad++ < 3)
                fprintf(stderr, "kv_write %s: [%llu] got %g want %g\n", what, (unsigned long long)i, out[i], ref[i]);
            if (!isnan(ref[i])) {
                num += ((double)out[i] - ref[i]) * ((double)out[i] - ref[i]);
                den += (double)ref[i] * ref[i];
                m++;
            }
        }
        e = bad ? INFINITY : m ? num / (den > 0 ? den : 1) : 0.0; /* m 0: every position skipped */
    }
    ot_check("kv_write", e, f16 ? 1e-6 : k->how != KV_PLAIN ? 1e-9 : 1e-14, what);
    ot_free(vk, &tsrc), ot_free(vk, &tp), ot_free(vk, &tf), ot_free(vk, &cache);
    free(src), free(roped), free(ref), free(out);
}

static void run_kv(vkslm_vk *vk, const kv_case *k, uint64_t salt) {
    static const uint32_t types[2] = {F32, F16};
    for (int t = 0; t < 2; t++)
        if (k->type == ANY || k->type == types[t])
            run_kv_one(vk, k, types[t], salt * 10 + (uint64_t)t);
}

/* ---- attention -------------------------------------------------------------------------------------- */
static ot_tensor attn_input(vkslm_vk *vk, const float *x, uint32_t type, uint64_t ne0, uint64_t ne1, uint64_t ne2) {
    /* PAD elements in, between NaN: reading outside the tensor poisons the output */
    return ot_floats(vk, x, type, ne0, ne1, ne2, PAD * (type == F16 ? 2 : 4));
}

static void run_attn_one(vkslm_vk *vk, const attn_case *tc, uint32_t type, uint64_t salt) {
    vkslm_rng r;
    test_rng(&r, salt);
    const uint32_t D = tc->D;
    uint64_t nq = (uint64_t)tc->n_tokens * tc->n_head * D, nkv = (uint64_t)tc->n_head_kv * tc->n_ctx * D;
    float *q = malloc(nq * 4), *k = malloc(nkv * 4), *v = malloc(nkv * 4), *ref = malloc(nq * 4), *out = malloc(nq * 4);
    CU_ASSERT_FATAL(q && k && v && ref && out);
    test_random_floats(&r, q, nq, -2.0f, 2.0f, F32);
    test_random_floats(&r, k, nkv, -1.0f, 1.0f, type);
    test_random_floats(&r, v, nkv, -1.0f, 1.0f, type);
    /* cache positions no token may see hold NaN: reading one poisons the output */
    uint32_t kv_end = tc->p0 + tc->n_tokens, lo = tc->window && tc->p0 + 1 > tc->window ? tc->p0 + 1 - tc->window : 0;
    for (uint32_t h = 0; h < tc->n_head_kv; h++)
        for (uint32_t j = 0; j < tc->n_ctx; j++)
            if (j < lo || j >= kv_end)
                for (uint32_t d = 0; d < D; d++)
                    k[((uint64_t)h * tc->n_ctx + j) * D + d] = v[((uint64_t)h * tc->n_ctx + j) * D + d] = NAN;
    vkslm_cpu_attn_shape shape = {D, tc->n_head, tc->n_head_kv, tc->n_tokens, tc->n_ctx, tc->p0, tc->window,
                                  tc->scale, tc->softcap};
    CU_ASSERT_FATAL(vkslm_cpu_attention(ref, q, k, v, &shape) == 0);
    ot_tensor tq = attn_input(vk, q, F32, D, tc->n_head, tc->n_tokens);
    ot_tensor tk = attn_input(vk, k, type, D, tc->n_ctx, tc->n_head_kv);
    ot_tensor tv = attn_input(vk, v, type, D, tc->n_ctx, tc->n_head_kv);
    ot_tensor to = ot_out(vk, F32, D, tc->n_head, tc->n_tokens, PAD * 4);
    uint64_t sbytes = vkslm_attn_scratch_bytes(tc->n_tokens, tc->n_head, D, tc->splits);
    ot_tensor ts = ot_out(vk, F32, sbytes / 4 + 1, 1, 1, 0);
    vkslm_attn_params params = {tc->p0, tc->scale, tc->softcap, tc->window, tc->subgroups};
    vkslm_cmd *c = ot_begin(vk);
    char what[160];
    snprintf(what, sizeof what, "D=%u heads=%u/%u tokens=%u p0=%u ctx=%u window=%u scale=%g softcap=%g %s splits=%u sg=%u",
             D, tc->n_head, tc->n_head_kv, tc->n_tokens, tc->p0, tc->n_ctx, tc->window, tc->scale, tc->softcap,
             tname(type), tc->splits, tc->subgroups);
    vkslm_status st = vkslm_op_attention(c, &to.t, &tq.t, &tk.t, &tv.t, sbytes ? &ts.t : NULL, &params);
    if (tc->expect != VKSLM_OK) {
        CU_ASSERT_EQUAL(st, tc->expect);
        CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "split"));
        ot_submit(c, VKSLM_OK, what);
    } else {
        CU_ASSERT_EQUAL(ot_submit(c, st, what), VKSLM_OK);
        double e = st == VKSLM_OK ? ot_read_nmse(vk, &to, out, ref, nq, what) : INFINITY;
        ot_check("attention", e, tc->softcap > 0 ? 1e-8 : 1e-9, what);
        uint32_t na = ot_dispatches("attention"), nc = ot_dispatches("attention combine");
        CU_ASSERT(na >= tc->min_attn && nc >= tc->min_combine);
        if (tc->exact_attn)
            CU_ASSERT_EQUAL(na, tc->exact_attn);
        if (tc->no_combine)
            CU_ASSERT_EQUAL(nc, 0);
    }
    ot_free(vk, &tq), ot_free(vk, &tk), ot_free(vk, &tv), ot_free(vk, &to), ot_free(vk, &ts);
    free(q), free(k), free(v), free(ref), free(out);
}

static void run_attn(vkslm_vk *vk, const attn_case *k, uint64_t salt) {
    static const uint32_t types[2] = {F16, F32};
    for (int t = 0; t < 2; t++)
        if (k->kv_type == ANY || k->kv_type == types[t])
            run_attn_one(vk, k, types[t], salt * 10 + (uint64_t)t);
}

/* ---- the driver ------------------------------------------------------------------------------------- */
static void run_case(vkslm_vk *vk, const op_case *k, uint64_t salt) {
    switch (k->op) {
    case OP_NORM: run_norm(vk, &k->norm, salt); break;
    case OP_GLU: run_glu(vk, &k->glu, salt); break;
    case OP_EW: run_ew(vk, &k->ew, salt); break;
    case OP_GET_ROWS: run_get_rows(vk, &k->get_rows, salt); break;
    case OP_MATMUL: run_matmul(vk, &k->matmul, salt); break;
    case OP_TOPK: run_topk(vk, &k->topk, salt); break;
    case OP_ROPE: run_rope(vk, &k->rope, salt); break;
    case OP_KV: run_kv(vk, &k->kv, salt); break;
    case OP_ATTN: run_attn(vk, &k->attn, salt); break;
    }
}

/* Every row of the table that runs in `mode`, on vk; rows_mod/rows_rem pick rows by index (M_RPL). */
static void run_mode(vkslm_vk *vk, uint32_t mode, uint32_t rows_mod, uint32_t rows_rem) {
    uint32_t seen = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if ((cases[i].modes & mode) && seen++ % rows_mod == rows_rem)
            run_case(vk, &cases[i], (uint64_t)i + 1);
    ot_report();
    test_gpu_assert_clean(vk);
}

static void run_mode_env(uint32_t mode, const char *const *env, int profile) {
    vkslm_vk *vk = test_gpu_open_env(env, profile);
    TEST_REQUIRE_GPU(vk);
    run_mode(vk, mode, 1, 0);
    vkslm_vk_close(vk);
}

static void test_ops_default(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    run_mode(vk, M_BASE, 1, 0);
}

static void test_ops_no_f16(void) {
    const char *env[] = {"VKSLM_DISABLE_16BIT=1", "VKSLM_DISABLE_F16=1", "VKSLM_DISABLE_8BIT=1", NULL};
    run_mode_env(M_NO16, env, 0);
}

static void test_ops_small_range(void) {
    const char *env[] = {"VKSLM_MAX_STORAGE_RANGE=1048576", "VKSLM_DISABLE_UMA=1", "VKSLM_STAGING_BYTES=262144", NULL};
    run_mode_env(M_RANGE, env, 1);
}

static void test_ops_range_256k(void) {
    const char *env[] = {"VKSLM_MAX_STORAGE_RANGE=262144", NULL};
    run_mode_env(M_RANGE_256K, env, 0);
}

static void test_ops_matvec_rows_per_invocation(void) {
    static const char *const rpl[] = {"VKSLM_MATVEC_RPL=1", "VKSLM_MATVEC_RPL=3", "VKSLM_MATVEC_RPL=7",
                                      "VKSLM_MATVEC_RPL=16", "VKSLM_MATVEC_RPL=32"};
    for (uint32_t i = 0; i < 5; i++) {
        const char *env[] = {rpl[i], NULL};
        vkslm_vk *vk = test_gpu_open_env(env, 0);
        TEST_REQUIRE_GPU(vk);
        CU_ASSERT_EQUAL(vkslm_vk_get_enabled(vk)->matvec_rpl, (uint32_t)atoi(strchr(rpl[i], '=') + 1));
        run_mode(vk, M_RPL, 5, i);
        vkslm_vk_close(vk);
    }
}

/* Bit for bit whatever the batch, with the kernels the device picks and with texel buffers off (the
 * storage-buffer kernels); ctest runs this test again at subgroup sizes 4 and 16 (LP_NATIVE_VECTOR_WIDTH). */
static void test_ops_matvec_stable(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    printf("(subgroup size %u) ", vkslm_vk_get_caps(vk)->subgroup_size);
    run_mode(vk, M_STABLE, 1, 0);
    const char *env[] = {"VKSLM_DISABLE_TEXEL=1", NULL};
    run_mode_env(M_STABLE, env, 0);
}

/* ---- the down product with the gated activation in its loads ---------------------------------------- */
/* d = (act(gate) * up) w^T against engine/cpu's activation then product, for the swept weight types, both
 * activations, 1 to 11 vectors (one pass and two), odd rows and offsets; refused with UNSUPPORTED where the
 * device has no texel mat-vec (and then the graph keeps the separate activation pass). */
static void run_matmul_glu(vkslm_vk *vk, uint64_t salt) {
    static const uint32_t ms[] = {1, 3, 8, 11};
    for (int t = 0; t < test_n_weight_types; t++) {
        uint32_t type = test_weight_types[t];
        if (!test_weight_type_swept(t))
            continue;
        uint64_t k = vkslm_type_info(type)->block_elems == 256 ? 256 : 96, n = 37;
        for (size_t mi = 0; mi < sizeof ms / sizeof *ms; mi++)
            for (int gelu = 0; gelu < 2; gelu++) {
                uint64_t m = ms[mi];
                vkslm_rng r;
                test_rng(&r, salt * 1000 + (uint64_t)t * 20 + mi * 2 + (uint64_t)gelu);
                uint8_t *w = test_random_weights(&r, type, n, k);
                float *gu = malloc(2 * k * m * 4), *a = malloc(k * m * 4), *ref = malloc(n * m * 4);
                float *out = malloc(n * m * 4);
                CU_ASSERT_FATAL(w && gu && a && ref && out);
                test_random_floats(&r, gu, 2 * k * m, -4.0f, 4.0f, F32);
                for (uint64_t v = 0; v < m; v++) /* rows [gate | up] into the activation's separate inputs */
                    if (gelu)
                        vkslm_cpu_geglu(a + v * k, gu + v * 2 * k, NULL, k, 1);
                    else
                        vkslm_cpu_swiglu(a + v * k, gu + v * 2 * k, NULL, k, 1);
                CU_ASSERT_FATAL(vkslm_cpu_matmul(ref, type, w, a, NULL, k, n, m) == VKSLM_OK);
                uint64_t w_off = vkslm_type_info(type)->block_elems == 1 ? 4 : 2; /* the least each allows */
                ot_tensor tw = ot_raw(vk, w, test_row_bytes(type, k) * n, type, k, n, w_off);
                ot_tensor tx = ot_floats(vk, gu, F32, 2 * k, m, 1, 16), td = ot_out(vk, F32, n, m, 1, 4);
                char what[96];
                snprintf(what, sizeof what, "%s glu %s k=%llu n=%llu m=%llu", tname(type), gelu ? "gelu" : "silu",
                         (unsigned long long)k, (unsigned long long)n, (unsigned long long)m);
                vkslm_cmd *c = ot_begin(vk);
                vkslm_status st = vkslm_op_matmul_glu(c, &td.t, &tw.t, &tx.t, gelu, 0);
                if (!vkslm_op_matmul_glu_fusable(vk, &tw.t)) {
                    CU_ASSERT_EQUAL(st, VKSLM_ERR_UNSUPPORTED);
                    CU_ASSERT_EQUAL(ot_submit(c, VKSLM_OK, what), VKSLM_OK);
                } else {
                    CU_ASSERT_EQUAL(ot_submit(c, st, what), VKSLM_OK);
                    double e = st == VKSLM_OK && ot_read(vk, &td, out, n * m, what) ? test_nmse(out, ref, n * m)
                                                                                     : INFINITY;
                    ot_check("matmul_glu", e, 1e-9, what);
                }
                ot_free(vk, &tw), ot_free(vk, &tx), ot_free(vk, &td);
                free(w), free(gu), free(a), free(ref), free(out);
            }
    }
}

static void test_ops_matmul_glu(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    CU_ASSERT_EQUAL(vkslm_op_matmul_glu_fusable(vk, NULL), 0);
    run_matmul_glu(vk, 1);
    /* without texel buffers the fused form is refused, never computed another way */
    const char *env[] = {"VKSLM_DISABLE_TEXEL=1", NULL};
    vkslm_vk *plain = test_gpu_open_env(env, 0);
    TEST_REQUIRE_GPU(plain);
    run_matmul_glu(plain, 2);
    test_gpu_assert_clean(plain);
    vkslm_vk_close(plain);
}

/* ---- arguments every op refuses ------------------------------------------------------------------- */
static void test_ops_reject_bad_args(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    vkslm_buf b;
    CU_ASSERT_FATAL(vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, 1 << 20, &b) == VKSLM_OK);
    vkslm_tensor f64x4 = {&b, 0, F32, {64, 4, 1, 1}}, f64x3 = {&b, 0, F32, {64, 3, 1, 1}};
    vkslm_tensor w32 = vkslm_tensor_1d(&b, 0, F32, 32), h64x4 = {&b, 0, F16, {64, 4, 1, 1}};
    vkslm_tensor past = {&b, (1 << 20) - 1024, F32, {4096, 1, 1, 1}};
    vkslm_cmd *c = ot_begin(vk);
    /* norm: d too small, w too short, not f32 */
    CU_ASSERT_EQUAL(vkslm_op_rms_norm(c, &f64x3, &f64x4, NULL, 1e-5f), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_op_rms_norm(c, &f64x4, &f64x4, &w32, 1e-5f), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_op_rms_norm(c, &h64x4, &h64x4, NULL, 1e-5f), VKSLM_ERR_UNSUPPORTED);
    CU_ASSERT_EQUAL(vkslm_op_rms_norm_add(c, &f64x4, &f64x4, NULL, NULL, 1e-5f), VKSLM_ERR_INVALID_ARG);
    /* glu: a fused gate needs rows of 2n; a tensor past the end of its buffer */
    CU_ASSERT_EQUAL(vkslm_op_swiglu(c, &f64x4, &f64x4, NULL), VKSLM_ERR_INVALID_ARG);
    vkslm_tensor past2 = past;
    past2.ne[0] = 8192;
    CU_ASSERT_EQUAL(vkslm_op_swiglu(c, &past, &past2, NULL), VKSLM_ERR_INVALID_ARG);
    /* elementwise: b must divide a, sizes must match, quantized types are refused, the cap positive */
    vkslm_tensor a100 = vkslm_tensor_1d(&b, 0, F32, 100), b7 = vkslm_tensor_1d(&b, 0, F32, 7);
    vkslm_tensor d99 = vkslm_tensor_1d(&b, 0, F32, 99), q = vkslm_tensor_1d(&b, 0, VKSLM_TYPE_Q4_0, 64);
    CU_ASSERT_EQUAL(vkslm_op_add(c, &a100, &a100, &b7), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "divide"));
    CU_ASSERT_EQUAL(vkslm_op_scale(c, &d99, &a100, 2.0f), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_op_scale(c, &q, &q, 2.0f), VKSLM_ERR_UNSUPPORTED);
    CU_ASSERT_EQUAL(vkslm_op_softcap(c, &a100, &a100, 0.0f), VKSLM_ERR_INVALID_ARG);
    /* matmul: rows no multiple of 32 (quantized), an unsupported type, x misaligned, d of the wrong shape */
    vkslm_tensor w = {&b, 0, VKSLM_TYPE_Q4_0, {64, 4, 1, 1}}, x = {&b, 0, F32, {64, 1, 1, 1}};
    vkslm_tensor d = {&b, 4096, F32, {4, 1, 1, 1}}, t = w;
    t.ne[0] = 48;
    vkslm_tensor x48 = x;
    x48.ne[0] = 48;
    CU_ASSERT_EQUAL(vkslm_op_matmul(c, &d, &t, &x48, NULL), VKSLM_ERR_INVALID_ARG);
    t = w;
    t.type = VKSLM_TYPE_IQ2_XS;
    CU_ASSERT_EQUAL(vkslm_op_matmul(c, &d, &t, &x, NULL), VKSLM_ERR_UNSUPPORTED);
    t = x;
    t.offset = 4; /* x must be 16-byte aligned */
    CU_ASSERT_EQUAL(vkslm_op_matmul(c, &d, &w, &t, NULL), VKSLM_ERR_INVALID_ARG);
    t = d;
    t.ne[0] = 5;
    CU_ASSERT_EQUAL(vkslm_op_matmul(c, &t, &w, &x, NULL), VKSLM_ERR_INVALID_ARG);
    /* get_rows: ids must be I32 */
    vkslm_tensor d64 = {&b, 0, F32, {64, 4, 1, 1}}, ids_f = vkslm_tensor_1d(&b, 0, F32, 4);
    CU_ASSERT_EQUAL(vkslm_op_get_rows(c, &d64, &w, &ids_f), VKSLM_ERR_UNSUPPORTED);
    /* topk: k above 64 or 0, scratch too small */
    vkslm_tensor a = {&b, 0, F32, {100, 2, 1, 1}}, ids = {&b, 0, VKSLM_TYPE_I32, {65, 2, 1, 1}};
    CU_ASSERT_EQUAL(vkslm_op_topk(c, &ids, NULL, &a, 65, &b), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_op_topk(c, &ids, NULL, &a, 0, &b), VKSLM_ERR_INVALID_ARG);
    vkslm_buf tiny = b;
    tiny.size = 16;
    CU_ASSERT_EQUAL(vkslm_op_topk(c, &ids, NULL, &a, 1, &tiny), VKSLM_ERR_INVALID_ARG);
    /* rope: odd head_dim, n_rot above head_dim, too few positions */
    vkslm_tensor ra = {&b, 0, F32, {64, 2, 4, 1}}, odd = {&b, 0, F32, {63, 2, 4, 1}};
    vkslm_tensor pos = vkslm_tensor_1d(&b, 0, VKSLM_TYPE_I32, 4), pos3 = vkslm_tensor_1d(&b, 0, VKSLM_TYPE_I32, 3);
    vkslm_rope_params prm = {.mode = VKSLM_ROPE_NORMAL}, big = {.mode = VKSLM_ROPE_NEOX, .n_rot = 66};
    CU_ASSERT_EQUAL(vkslm_op_rope(c, &odd, &odd, &pos, NULL, &prm), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_op_rope(c, &ra, &ra, &pos, NULL, &big), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_op_rope(c, &ra, &ra, &pos3, NULL, &prm), VKSLM_ERR_INVALID_ARG);
    /* attention: kv heads must divide q heads, a quantized cache, v unlike k, positions past the cache,
     * head_dim above 256, a negative soft-cap */
    vkslm_tensor aq = {&b, 0, F32, {64, 6, 1, 1}}, k4 = {&b, 0, F16, {64, 100, 4, 1}};
    vkslm_tensor kq = {&b, 0, VKSLM_TYPE_Q4_0, {64, 100, 2, 1}}, k2 = {&b, 0, F16, {64, 100, 2, 1}};
    vkslm_tensor big_q = {&b, 0, F32, {512, 2, 1, 1}}, big_k = {&b, 0, F32, {512, 10, 2, 1}};
    vkslm_attn_params p = {99, 0, 0, 0, 0};
    CU_ASSERT_EQUAL(vkslm_op_attention(c, &aq, &aq, &k4, &k4, NULL, &p), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "divide"));
    CU_ASSERT_EQUAL(vkslm_op_attention(c, &aq, &aq, &kq, &kq, NULL, &p), VKSLM_ERR_UNSUPPORTED);
    CU_ASSERT_EQUAL(vkslm_op_attention(c, &aq, &aq, &k2, &k4, NULL, &p), VKSLM_ERR_INVALID_ARG);
    p.p0 = 100;
    CU_ASSERT_EQUAL(vkslm_op_attention(c, &aq, &aq, &k2, &k2, NULL, &p), VKSLM_ERR_INVALID_ARG);
    p.p0 = 0;
    CU_ASSERT_EQUAL(vkslm_op_attention(c, &big_q, &big_q, &big_k, &big_k, NULL, &p), VKSLM_ERR_UNSUPPORTED);
    p.softcap = -1.0f;
    CU_ASSERT_EQUAL(vkslm_op_attention(c, &aq, &aq, &k2, &k2, NULL, &p), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(ot_submit(c, VKSLM_OK, "bad arguments"), VKSLM_OK); /* nothing recorded: still fine */
    vkslm_vk_free(vk, &b);
    test_gpu_assert_clean(vk);
}

/* What the range forces must split; what cannot be split is refused, never truncated. */
static void test_ops_range_refusals(void) {
    const char *env[] = {"VKSLM_MAX_STORAGE_RANGE=1048576", NULL};
    vkslm_vk *vk = test_gpu_open_env(env, 0);
    TEST_REQUIRE_GPU(vk);
    CU_ASSERT_EQUAL(vkslm_vk_max_range(vk), 1048576);
    vkslm_buf b;
    CU_ASSERT_FATAL(vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, 8u << 20, &b) == VKSLM_OK);
    vkslm_binding bind;
    uint64_t skip;
    CU_ASSERT_EQUAL(vkslm_vk_bind(vk, &b, 0, 2u << 20, 0, &bind, &skip), VKSLM_ERR_LIMIT);
    /* one kv head's cache larger than the range */
    vkslm_kv_layout huge = {1, 1, 8192, 128, F32};
    vkslm_tensor dst = vkslm_kv_tensor(&huge, &b, 0, 0, VKSLM_KV_K);
    vkslm_tensor src = {&b, 0, F32, {128, 1, 1, 1}}, tp = vkslm_tensor_1d(&b, 0, VKSLM_TYPE_I32, 1);
    /* one norm row, and one plain weight matrix for get_rows, larger than the range */
    vkslm_tensor row = vkslm_tensor_1d(&b, 0, F32, 300000);
    vkslm_tensor plain = {&b, 0, F32, {12, 30000, 1, 1}}, ids = vkslm_tensor_1d(&b, 4u << 20, VKSLM_TYPE_I32, 2);
    vkslm_tensor rows = {&b, 5u << 20, F32, {12, 2, 1, 1}};
    vkslm_cmd *c = ot_begin(vk);
    CU_ASSERT_EQUAL(vkslm_op_kv_write(c, &dst, &src, &tp, 0), VKSLM_ERR_LIMIT);
    CU_ASSERT_EQUAL(vkslm_op_rms_norm(c, &row, &row, NULL, 1e-5f), VKSLM_ERR_LIMIT);
    CU_ASSERT_EQUAL(vkslm_op_get_rows(c, &rows, &plain, &ids), VKSLM_ERR_LIMIT);
    CU_ASSERT_EQUAL(ot_submit(c, VKSLM_OK, "refusals"), VKSLM_OK);
    vkslm_vk_free(vk, &b);
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);
}

static void test_kv_layout(void) {
    vkslm_kv_layout l = {4, 2, 100, 64, F16};
    CU_ASSERT_EQUAL(vkslm_kv_part_bytes(&l), 2 * 100 * 64 * 2);
    CU_ASSERT_EQUAL(vkslm_kv_bytes(&l), 8 * vkslm_kv_part_bytes(&l));
    /* (layer 3, V, head 1, pos 99) is the last row */
    CU_ASSERT_EQUAL(vkslm_kv_row_offset(&l, 3, VKSLM_KV_V, 1, 99) + 64 * 2, vkslm_kv_bytes(&l));
    CU_ASSERT_EQUAL(vkslm_kv_row_offset(&l, 0, VKSLM_KV_K, 1, 0), 100 * 64 * 2);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"every op against engine/cpu on the default device", test_ops_default},
        {"every op with fp16 and 8/16-bit storage off", test_ops_no_f16},
        {"ops split by a 1 MiB storage range", test_ops_small_range},
        {"top-k split by a 256 KiB storage range", test_ops_range_256k},
        {"mat-vec with 1, 3, 7, 16 and 32 rows per invocation", test_ops_matvec_rows_per_invocation},
        {"mat-vec outputs bit-identical whatever vectors share the dispatch", test_ops_matvec_stable},
        {"down product with the gated activation fused into its loads", test_ops_matmul_glu},
        {"ops reject bad arguments", test_ops_reject_bad_args},
        {"what the range cannot split is refused", test_ops_range_refusals},
        {"kv cache layout offsets", test_kv_layout},
        {NULL, NULL},
    };
    return test_run_suite("gpu_ops", tests);
}
