/* Threaded row conversion into a GGUF writer, and requantization of a whole file (see convert.h). */
#include "engine/model/convert.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine/util/alloc.h"
#include "engine/util/error.h"
#include "loaders/ggml_types.h"
#include "loaders/quant.h"

#define CHUNK_BYTES (16u << 20) /* converted bytes held at once, per chunk */

int vkslm_convert_default_threads(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 16 ? 16 : (int)n;
}

typedef struct job {
    uint32_t type;
    uint64_t n_per_row, row_bytes;
    uint64_t row0, n_rows; /* rows of this thread, from the source's numbering */
    uint8_t *dst;          /* where row row0 goes */
    vkslm_row_source src;
    void *ctx;
    vkslm_status st;
    char err[256];
} job;

static void *run_job(void *arg) {
    job *j = arg;
    float *row = VKSLM_MALLOC(j->n_per_row * sizeof *row);
    if (!row) {
        j->st = VKSLM_ERR_OUT_OF_HOST_MEMORY;
        snprintf(j->err, sizeof j->err, "out of host memory");
        return NULL;
    }
    for (uint64_t r = 0; r < j->n_rows && j->st == VKSLM_OK; r++) {
        vkslm_status st = j->src(j->ctx, j->row0 + r, row);
        if (st == VKSLM_OK)
            st = vkslm_quantize_row(j->type, row, j->dst + r * j->row_bytes, j->n_per_row);
        if (st != VKSLM_OK) {
            j->st = st;
            snprintf(j->err, sizeof j->err, "%s", vkslm_last_error()); /* the message is per thread */
        }
    }
    VKSLM_FREE(row);
    return NULL;
}

vkslm_status vkslm_convert_rows(vkslm_gguf_writer *w, uint32_t type, uint64_t n_rows, uint64_t n_per_row,
                                vkslm_row_source src, void *ctx, int n_threads, vkslm_convert_progress *progress) {
    uint64_t row_bytes = vkslm_type_row_bytes(type, n_per_row);
    if (!w || !src || row_bytes == 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "convert: rows of %llu elements do not fit type %u",
                          (unsigned long long)n_per_row, type);
    if (n_threads < 1)
        n_threads = vkslm_convert_default_threads();
    if (n_threads > 64)
        n_threads = 64;
    uint64_t chunk_rows = CHUNK_BYTES / row_bytes;
    if (chunk_rows < 1)
        chunk_rows = 1;
    if (chunk_rows > n_rows)
        chunk_rows = n_rows;
    uint8_t *buf = VKSLM_MALLOC(chunk_rows * row_bytes);
    if (!buf && n_rows)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory (%llu bytes)",
                          (unsigned long long)(chunk_rows * row_bytes));
    vkslm_status st = VKSLM_OK;
    job jobs[64];
    pthread_t tids[64];
    for (uint64_t r0 = 0; r0 < n_rows && st == VKSLM_OK; r0 += chunk_rows) {
        uint64_t nr = n_rows - r0 < chunk_rows ? n_rows - r0 : chunk_rows;
        /* small pieces are not worth a thread: about 64K elements each at least */
        uint64_t min_rows = (65536 + n_per_row - 1) / n_per_row;
        int nt = (int)((nr + min_rows - 1) / min_rows);
        if (nt > n_threads)
            nt = n_threads;
        if (nt < 1)
            nt = 1;
        uint64_t per = (nr + (uint64_t)nt - 1) / (uint64_t)nt;
        int threaded[64] = {0};
        for (int t = 0; t < nt; t++) {
            uint64_t a = (uint64_t)t * per < nr ? (uint64_t)t * per : nr, b = a + per < nr ? a + per : nr;
            jobs[t] = (job){type, n_per_row, row_bytes, r0 + a, b > a ? b - a : 0, buf + a * row_bytes, src, ctx,
                            VKSLM_OK, ""};
        }
        for (int t = 1; t < nt; t++)
            threaded[t] = pthread_create(&tids[t], NULL, run_job, &jobs[t]) == 0;
        for (int t = 0; t < nt; t++)
            if (!threaded[t])
                run_job(&jobs[t]); /* job 0, and any job that got no thread */
        for (int t = 1; t < nt; t++)
            if (threaded[t])
                pthread_join(tids[t], NULL);
        for (int t = 0; t < nt && st == VKSLM_OK; t++)
            if (jobs[t].st != VKSLM_OK)
                st = vkslm_fail(jobs[t].st, "%s", jobs[t].err);
        if (st == VKSLM_OK)
            st = vkslm_gguf_writer_write(w, buf, (size_t)(nr * row_bytes));
        if (st == VKSLM_OK && progress) {
            progress->done += nr * n_per_row;
            if (progress->fn && progress->total)
                progress->fn((float)((double)progress->done / (double)progress->total), progress->user);
        }
    }
    VKSLM_FREE(buf);
    return st;
}

/* ---- requantizing a file ---------------------------------------------------------------------- */
typedef struct in_rows {
    const vkslm_gguf_tensor *t;
    uint64_t row_bytes;
} in_rows;

static vkslm_status dequant_source(void *ctx, uint64_t row, float *out) {
    const in_rows *r = ctx;
    return vkslm_dequantize_row(r->t->type, r->t->data + row * r->row_bytes, out, r->t->ne[0]);
}

static int is_float_type(uint32_t t) { return t == VKSLM_TYPE_F32 || t == VKSLM_TYPE_F16 || t == VKSLM_TYPE_BF16; }

static void tensor_name(const vkslm_gguf_tensor *t, char *buf, size_t cap) {
    snprintf(buf, cap, "%.*s", (int)(t->name.len < cap ? t->name.len : cap - 1), t->name.ptr);
}

/* Refuses a file that holds anything but float tensors. */
static vkslm_status check_input(const vkslm_gguf *g, const char *path) {
    for (uint64_t i = 0; i < vkslm_gguf_tensor_count(g); i++) {
        const vkslm_gguf_tensor *t = vkslm_gguf_tensor_at(g, i);
        if (!is_float_type(t->type)) {
            char name[128];
            tensor_name(t, name, sizeof name);
            const vkslm_type_traits *tr = vkslm_type_info(t->type);
            return vkslm_fail(VKSLM_ERR_UNSUPPORTED,
                              "%s is already quantized (tensor '%s' is %s): quantize needs an F32, F16 or BF16 "
                              "file, since requantizing loses precision twice", path, name, tr ? tr->name : "?");
        }
    }
    return VKSLM_OK;
}

static vkslm_status copy_metadata(vkslm_gguf_writer *w, const vkslm_gguf *g, vkslm_ftype ftype) {
    int wrote_ftype = 0, wrote_qv = 0, quantized = ftype != VKSLM_FTYPE_ALL_F32 && ftype != VKSLM_FTYPE_F16 &&
                                                  ftype != VKSLM_FTYPE_BF16;
    for (uint64_t i = 0; i < vkslm_gguf_kv_count(g); i++) {
        vkslm_str k = vkslm_gguf_kv_key(g, i);
        if (vkslm_str_eq(k, "general.file_type")) {
            VKSLM_TRY(vkslm_gguf_write_u32(w, "general.file_type", (uint32_t)ftype));
            wrote_ftype = 1;
        } else if (vkslm_str_eq(k, "general.quantization_version")) {
            if (quantized)
                VKSLM_TRY(vkslm_gguf_write_u32(w, "general.quantization_version", 2));
            wrote_qv = 1;
        } else {
            VKSLM_TRY(vkslm_gguf_writer_copy_kv(w, g, i));
        }
    }
    if (!wrote_ftype)
        VKSLM_TRY(vkslm_gguf_write_u32(w, "general.file_type", (uint32_t)ftype));
    if (!wrote_qv && quantized)
        VKSLM_TRY(vkslm_gguf_write_u32(w, "general.quantization_version", 2));
    return VKSLM_OK;
}

static vkslm_status quantize_open(const vkslm_gguf *g, const char *in_path, const char *out_path, vkslm_ftype ftype,
                                  int n_threads, vkslm_convert_progress *pr) {
    uint64_t n = vkslm_gguf_tensor_count(g);
    vkslm_mix_model mix = {ftype, 0, vkslm_gguf_find_tensor(g, "output.weight") != NULL};
    for (uint64_t i = 0; i < n; i++) {
        char name[128];
        int il;
        tensor_name(vkslm_gguf_tensor_at(g, i), name, sizeof name);
        if (sscanf(name, "blk.%d.", &il) == 1 && il >= 0 && (uint32_t)il + 1 > mix.n_layer)
            mix.n_layer = (uint32_t)il + 1;
    }
    uint64_t align = vkslm_gguf_alignment(g);
    vkslm_gguf_writer *w;
    VKSLM_TRY(vkslm_gguf_writer_open(out_path, (uint32_t)align, &w));
    vkslm_status st = copy_metadata(w, g, ftype);
    uint32_t *types = VKSLM_CALLOC(n ? n : 1, sizeof *types);
    if (!types && st == VKSLM_OK)
        st = vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    for (uint64_t i = 0; i < n && st == VKSLM_OK; i++) {
        const vkslm_gguf_tensor *t = vkslm_gguf_tensor_at(g, i);
        char name[128];
        tensor_name(t, name, sizeof name);
        uint32_t ty = vkslm_mix_tensor_type(&mix, name, t->n_dims, t->ne);
        /* tensors the rules leave alone (norms, biases, 1-D) keep their bytes and type */
        int keep = !vkslm_mix_converts(name, t->n_dims);
        types[i] = keep ? t->type : ty;
        st = vkslm_gguf_writer_add_tensor(w, name, types[i], t->n_dims, t->ne);
        pr->total += t->n_elems;
    }
    if (st == VKSLM_OK)
        st = vkslm_gguf_writer_begin_data(w);
    for (uint64_t i = 0; i < n && st == VKSLM_OK; i++) {
        const vkslm_gguf_tensor *t = vkslm_gguf_tensor_at(g, i);
        if (types[i] == t->type) {
            st = vkslm_gguf_writer_write(w, t->data, (size_t)t->size);
            pr->done += t->n_elems;
        } else {
            in_rows src = {t, vkslm_type_row_bytes(t->type, t->ne[0])};
            st = vkslm_convert_rows(w, types[i], t->n_elems / t->ne[0], t->ne[0], dequant_source, &src, n_threads, pr);
        }
    }
    VKSLM_FREE(types);
    if (st != VKSLM_OK) {
        vkslm_gguf_writer_abort(w);
        return vkslm_fail_context(st, "quantize %s", in_path);
    }
    if (pr->fn)
        pr->fn(1.0f, pr->user);
    return vkslm_gguf_writer_close(w);
}

vkslm_status vkslm_model_quantize(const char *in_path, const char *out_path, vkslm_ftype ftype, int n_threads,
                                  bool (*progress)(float fraction, void *user), void *user) {
    if (!in_path || !out_path)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "quantize: NULL path");
    if (strcmp(vkslm_ftype_name(ftype), "?") == 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "quantize: unknown file type %d", (int)ftype);
    vkslm_gguf *g;
    VKSLM_TRY(vkslm_gguf_open_file(in_path, &g));
    vkslm_status st = check_input(g, in_path);
    vkslm_convert_progress pr = {progress, user, 0, 0};
    if (st == VKSLM_OK)
        st = quantize_open(g, in_path, out_path, ftype, n_threads, &pr);
    vkslm_gguf_close(g);
    return st;
}

/* ---- the public form (vkslm_gguf.h) ------------------------------------------------------------ */
vkslm_quantize_params vkslm_quantize_default_params(void) {
    vkslm_quantize_params p;
    memset(&p, 0, sizeof p);
    return p;
}

vkslm_status vkslm_gguf_quantize(const char *in_path, const char *out_path, vkslm_ftype ftype,
                                 const vkslm_quantize_params *params) {
    vkslm_quantize_params p = params ? *params : vkslm_quantize_default_params();
    if (p.n_threads < 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "quantize: %d threads", p.n_threads);
    return vkslm_model_quantize(in_path, out_path, ftype, p.n_threads, p.progress, p.progress_user_data);
}
