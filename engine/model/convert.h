/* Writing weights into a GGUF file: rows produced by a source (a generator, or the dequantized rows of
 * another file) are converted to the target type on several threads and streamed to the writer in
 * bounded chunks. On top of it, vkslm_model_quantize requantizes a whole F32/F16/BF16 file. */
#ifndef VKSLM_MODEL_CONVERT_H
#define VKSLM_MODEL_CONVERT_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/model/quant_mix.h"
#include "loaders/gguf.h"
#include "loaders/gguf_write.h"

/* Fills out[0..n_per_row) with row `row` of a tensor. Called from several threads at once, each row
 * exactly once; must not depend on which thread or in what order. */
typedef vkslm_status (*vkslm_row_source)(void *ctx, uint64_t row, float *out);

/* Progress over a whole job: fn(done / total) after each chunk (its return value is ignored; the
 * signature is vkslm_progress_fn's). fn may be NULL. */
typedef struct vkslm_convert_progress {
    bool (*fn)(float fraction, void *user);
    void *user;
    uint64_t done, total; /* in any unit the caller chooses (elements here) */
} vkslm_convert_progress;

/* Converts n_rows rows of n_per_row floats to `type` and appends them to w (the current tensor). */
vkslm_status vkslm_convert_rows(vkslm_gguf_writer *w, uint32_t type, uint64_t n_rows, uint64_t n_per_row,
                                vkslm_row_source src, void *ctx, int n_threads, vkslm_convert_progress *progress);

/* Threads to use when the caller says 0: the online CPUs (at most 16). */
int vkslm_convert_default_threads(void);

/* Requantizes the F32/F16/BF16 GGUF at in_path into out_path with file type ftype: every key copied
 * (general.file_type updated, general.quantization_version set for quantized types), tensors in the
 * same order with the types quant_mix.h gives. An input with any tensor in another type is refused
 * with VKSLM_ERR_UNSUPPORTED naming the tensor and its type. */
vkslm_status vkslm_model_quantize(const char *in_path, const char *out_path, vkslm_ftype ftype, int n_threads,
                                  bool (*progress)(float fraction, void *user), void *user);
#endif
