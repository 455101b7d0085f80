/* A loaded model: the GGUF file, its hyperparameters, its tensor table, and every weight uploaded to
 * device memory. Immutable after loading, so several sessions (and threads) can share it. */
#ifndef VKSLM_MODEL_MODEL_H
#define VKSLM_MODEL_MODEL_H

#include "engine/model/hparams.h"
#include "engine/model/tensors.h"
#include "engine/ops/tensor.h"
#include "engine/vk/vk.h"

/* Called with the fraction of weight bytes uploaded; returning 0 cancels the load. */
typedef int (*vkslm_load_progress_fn)(float fraction, void *user_data);

/* Device views of one layer's weights (buf == NULL where the architecture has none). At load, q/k/v of
 * one type are fused into wqkv (rows q | k | v, biases into bqkv) and gate/up into ffn_up (rows gate | up,
 * ffn_gate then NULL), as phi3 files store them: one mat-vec each instead of three and two. */
typedef struct vkslm_dev_layer {
#define VKSLM_X_FIELD(name) vkslm_tensor name;
    VKSLM_LAYER_WEIGHTS(VKSLM_X_FIELD)
#undef VKSLM_X_FIELD
} vkslm_dev_layer;

typedef struct vkslm_model_dev {
    vkslm_gguf *gguf;
    vkslm_hparams hp;
    vkslm_model_weights w;       /* GGUF views of the weights */
    vkslm_vk *vk;                /* borrowed: the device the weights live on */
    uint64_t n_tensors;
    vkslm_buf *bufs;             /* [n_tensors] one device buffer per GGUF tensor (index = GGUF order) */
    uint32_t *tiles;             /* [n_tensors] rows per tile of each tensor's layout on the device (0: GGUF's;
                                  * engine/model/weight_tiles.h) */
    uint64_t weight_bytes;       /* bytes of weights on the device */
    /* device views of the tensor table */
    vkslm_tensor tok_embd, output_norm, output, rope_freqs, rope_long, rope_short;
    vkslm_dev_layer *layers;     /* [hp.n_layer] */
    vkslm_buf *fused;            /* [cap_fused] buffers of the fused tensors (their parts' are freed); fixed size:
                                  * the layer views point into it */
    uint32_t n_fused, cap_fused;
} vkslm_model_dev;

/* Parses, checks and uploads. Takes ownership of `gguf` (closed by vkslm_model_dev_free, also on
 * failure). vk must outlive the model. */
vkslm_status vkslm_model_dev_load(vkslm_vk *vk, vkslm_gguf *gguf, vkslm_load_progress_fn progress, void *user,
                                  vkslm_model_dev **out);
void vkslm_model_dev_free(vkslm_model_dev *m);
/* The device tensor of a bound weight (w points into m->w), or a tensor with buf == NULL for NULL. */
vkslm_tensor vkslm_model_dev_tensor(const vkslm_model_dev *m, vkslm_wt w);
#endif
