#ifndef SIDECAR_CMONGOC_SHIM_H
#define SIDECAR_CMONGOC_SHIM_H
#include <mongoc/mongoc.h>

// bson_t and bson_iter_t are declared 128-byte aligned, which Swift cannot import: it sees them
// only as opaque pointers. These helpers allocate iterators with that alignment and read a
// document's length, so Swift never needs their layout.
static inline bson_iter_t *sidecar_bson_iter_new(void) {
    return (bson_iter_t *) bson_aligned_alloc0(BSON_ALIGNOF(bson_iter_t), sizeof(bson_iter_t));
}

static inline void sidecar_bson_iter_free(bson_iter_t *iter) { bson_free(iter); }

static inline uint32_t sidecar_bson_length(const bson_t *document) { return document->len; }
#endif
