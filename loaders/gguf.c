/* Opening and closing GGUF files: mmap of a path, a borrowed memory buffer, or a (fd, offset, length)
 * window of an open file (Android assets). Parsing is in gguf_parse.c, reading in gguf_access.c. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/util/alloc.h"
#include "engine/util/error.h"
#include "engine/util/stb_ds_names.h"
#include "loaders/gguf_internal.h"

static vkslm_status finish_open(vkslm_gguf *g, vkslm_gguf **out) {
    vkslm_status st = vkslm_gguf_parse(g);
    if (st != VKSLM_OK) {
        vkslm_gguf_close(g);
        return st;
    }
    *out = g;
    return VKSLM_OK;
}

vkslm_status vkslm_gguf_open_memory(const void *data, size_t size, vkslm_gguf **out) {
    if (!out || (!data && size))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "gguf: open_memory: NULL argument");
    *out = NULL;
    vkslm_gguf *g = VKSLM_CALLOC(1, sizeof *g);
    if (!g)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "gguf: no memory");
    g->base = data;
    g->size = size;
    return finish_open(g, out);
}

/* Maps [offset, offset + length) of fd (length 0: to the end of the file). */
static vkslm_status map_fd(int fd, uint64_t offset, uint64_t length, const char *what, vkslm_gguf **out) {
    struct stat stt;
    if (fstat(fd, &stt) != 0)
        return vkslm_fail(VKSLM_ERR_IO, "gguf: %s: stat: %s", what, strerror(errno));
    uint64_t fsize = (uint64_t)stt.st_size;
    if (offset > fsize)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "gguf: %s: offset %llu is past the end of the file (%llu bytes)", what,
                          (unsigned long long)offset, (unsigned long long)fsize);
    if (length == 0)
        length = fsize - offset;
    else if (length > fsize - offset)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "gguf: %s: %llu bytes at offset %llu run past the end of the file (%llu bytes)",
                          what, (unsigned long long)length, (unsigned long long)offset, (unsigned long long)fsize);
    if (length == 0)
        return vkslm_fail(VKSLM_ERR_FORMAT, "gguf: %s at byte 0: the file is empty", what);
    long page = sysconf(_SC_PAGESIZE);
    uint64_t delta = offset % (uint64_t)(page > 0 ? page : 4096);
    if (length + delta > (uint64_t)SIZE_MAX)
        return vkslm_fail(VKSLM_ERR_LIMIT, "gguf: %s: %llu bytes do not fit in the address space", what,
                          (unsigned long long)length);
    size_t map_len = (size_t)(length + delta);
    void *map = mmap(NULL, map_len, PROT_READ, MAP_PRIVATE, fd, (off_t)(offset - delta));
    if (map == MAP_FAILED)
        return vkslm_fail(VKSLM_ERR_IO, "gguf: %s: mmap of %zu bytes: %s", what, map_len, strerror(errno));
    vkslm_gguf *g = VKSLM_CALLOC(1, sizeof *g);
    if (!g) {
        munmap(map, map_len);
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "gguf: no memory");
    }
    g->map = map;
    g->map_len = map_len;
    g->base = (const uint8_t *)map + delta;
    g->size = length;
    return finish_open(g, out);
}

vkslm_status vkslm_gguf_open_fd(int fd, uint64_t offset, uint64_t length, vkslm_gguf **out) {
    if (!out || fd < 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "gguf: open_fd: bad argument");
    *out = NULL;
    return map_fd(fd, offset, length, "fd", out);
}

vkslm_status vkslm_gguf_open_file(const char *path, vkslm_gguf **out) {
    if (!out || !path)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "gguf: open_file: NULL argument");
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return vkslm_fail(VKSLM_ERR_IO, "gguf: open %s: %s", path, strerror(errno));
    vkslm_status st = map_fd(fd, 0, 0, path, out);
    close(fd); /* the mapping stays valid */
    return st;
}

void vkslm_gguf_close(vkslm_gguf *g) {
    if (!g)
        return;
    for (uint64_t i = 0; g->kv && i < g->n_kv; i++)
        VKSLM_FREE(g->kv[i].str_offs);
    VKSLM_FREE(g->kv);
    VKSLM_FREE(g->tensors);
    shfree(g->kv_index);
    shfree(g->tensor_index);
    if (g->map)
        munmap(g->map, g->map_len);
    VKSLM_FREE(g);
}
