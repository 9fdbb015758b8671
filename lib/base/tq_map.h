/* tq_map — a hash map from byte-string keys to fixed-size values (open addressing, linear
 * probing, tombstones), the one hash table of tileq.
 *
 * Keys: either every key has the same size (key_size > 0 at creation: a struct, a pointer, an
 * integer; stored inside the table), or keys have any length (key_size 0: strings or byte
 * runs, each copied into a heap block of the map's). The tq_map_str_* helpers use a C
 * string with its NUL as the key, so a stored key read back is a C string again.
 * Fixed-size keys are compared and hashed byte by byte: zero a struct key (memset) before
 * filling it, so its padding bytes compare equal.
 *
 * Values: value_size bytes each, stored inside the table, zeroed when inserted. Store a
 * pointer (value_size = sizeof(void *)) for objects that must not move, the value itself
 * for small records (a count, an id, a statistics record); value_size 0 makes a set.
 *
 * Ownership: the map owns its slots and its key copies; it never frees what a value points
 * to (the caller does, e.g. while iterating before tq_map_free).
 * Lifetimes: a value pointer (and a fixed-size key's stored copy) stays valid until the next
 * insert (which may grow and move the table), tq_map_clear or tq_map_free; removing other
 * entries does not move it. A variable-length key's stored copy stays where it is until its
 * entry is removed.
 * Out of memory is reported by the return value (NULL or -1), never by aborting; the map is
 * unchanged then. */
#ifndef TQ_MAP_H
#define TQ_MAP_H

#include <stddef.h>

struct tq_map;

/* A new empty map (nothing allocated for slots until the first insert). NULL on OOM. */
struct tq_map *tq_map_new(size_t key_size, size_t value_size);

/* Frees the map and its key copies (not what values point to). NULL is a no-op. */
void tq_map_free(struct tq_map *m);

/* Removes every entry (frees the key copies), keeps the map usable. */
void tq_map_clear(struct tq_map *m);

/* Entries in the map. */
size_t tq_map_count(const struct tq_map *m);

/* The value stored under key (klen bytes), or NULL when absent (or when klen is not the
 * map's fixed key size). */
void *tq_map_get(const struct tq_map *m, const void *key, size_t klen);

/* The value under key, inserted (zeroed) when absent: *added (when not NULL) is 1 then, 0
 * when it was there. NULL on OOM or a klen that is not the map's fixed key size. */
void *tq_map_put(struct tq_map *m, const void *key, size_t klen, int *added);

/* Removes key's entry, copying its value to value_out when not NULL (value_size bytes).
 * 1 removed, 0 absent. Safe during an iteration (the entry at the iterator's last position
 * may be removed). */
int tq_map_remove(struct tq_map *m, const void *key, size_t klen, void *value_out);

/* The stored key of the entry whose value pointer (from get, put or next) is value, its
 * length in *klen when not NULL. */
const void *tq_map_key(const struct tq_map *m, const void *value, size_t *klen);

/* Iteration in table order: *pos starts at 0; returns the next entry's value (its stored key
 * in *key and length in *klen when those are not NULL), or NULL at the end. The map must not
 * get inserts meanwhile; removals are fine. */
void *tq_map_next(const struct tq_map *m, size_t *pos, const void **key, size_t *klen);

/* The same with a C string key (its NUL included); maps of key_size 0 only. */
void *tq_map_str_get(const struct tq_map *m, const char *key);
void *tq_map_str_put(struct tq_map *m, const char *key, int *added);
int tq_map_str_remove(struct tq_map *m, const char *key, void *value_out);

#endif
