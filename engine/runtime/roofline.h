/* The memory roofline a benchmark compares decode against: for a CPU-type Vulkan device (lavapipe) the
 * host's memory read bandwidth, measured by a plain multi-threaded C loop; for a GPU, its buffer-copy
 * bandwidth (bytes read plus bytes written). */
#ifndef VKSLM_RUNTIME_ROOFLINE_H
#define VKSLM_RUNTIME_ROOFLINE_H

#include "engine/vk/vk.h"

/* GB/s (1e9 bytes/s) of reading `bytes` of memory with `threads` threads (0: every core), best of reps. */
double vkslm_host_read_gbps(uint64_t bytes, int threads, int reps);
/* GB/s of copying `bytes` between two device buffers, counting bytes read plus written, best of reps. */
vkslm_status vkslm_device_copy_gbps(vkslm_vk *vk, uint64_t bytes, int reps, double *gbps);
#endif
