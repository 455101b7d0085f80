/* Weight matrices in tiles of rows, the layout CPU devices' weight kernels read best.
 *
 * GGUF stores a matrix row after row. The mat-vec kernel of CPU devices (shaders/matmul_vec.comp, texel
 * variants) has each invocation walk several rows side by side, a block of each at a time, so a workgroup
 * reads dozens of rows at once, each at its own address: on lavapipe a dozen of such streams per core defeat
 * the CPU's prefetchers, and a mat-vec whose weights come from memory (every weight of a decode step) runs at
 * half the speed of one whose weights sit in cache (measured: 896 x 151936 Q4_0, 3.2 against 6.5 GB/s).
 * In tiles of T rows, block b of row r is stored at block b * T + (r % T) of its tile: the blocks a workgroup
 * needs next lie side by side, and it reads the tile front to back. A tile holds the same bytes as its T rows
 * (T * row_bytes), so tiles split and bind as rows do; only the order of the blocks inside changes.
 *
 * A "block" here is the unit the kernels address (shaders/quant_blocks.glsl's QB_BYTES): a quantized type's
 * block, or 32 elements of a plain float type. The CPU reference (engine/cpu) and the GGUF file keep GGUF's
 * layout; tiling only permutes whole blocks, so every product reads the same values in the same order, and
 * outputs are bit for bit those of GGUF's layout. */
#ifndef VKSLM_MODEL_WEIGHT_TILES_H
#define VKSLM_MODEL_WEIGHT_TILES_H
#include <stdint.h>

/* Bytes of the unit the weight kernels address in a row of `type`: the block, or 32 plain floats; 0 for a
 * type the kernels do not take. */
uint32_t vkslm_tile_block_bytes(uint32_t type);
/* Whether a rows x k matrix of `type` can be stored in tiles of t rows (t >= 2, whole tiles, rows of
 * 32-element units). */
int vkslm_tile_ok(uint32_t type, uint64_t k, uint64_t rows, uint32_t t);
/* dst = src (GGUF's rows) in tiles of t rows; vkslm_tile_ok must hold. dst and src do not overlap. */
void vkslm_tile_pack(void *dst, const void *src, uint32_t type, uint64_t k, uint64_t rows, uint32_t t);
#endif
