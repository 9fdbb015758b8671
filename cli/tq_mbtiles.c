/* tq_mbtiles — see tq_mbtiles.h. */
#include "tq_mbtiles.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

/* No journal and no syncs while building: the file is a private PATH.partial until it is
 * complete (fsynced by us before the rename), so a crash loses nothing worth keeping. */
static const char SCHEMA[] =
    "PRAGMA journal_mode = OFF;"
    "PRAGMA synchronous = OFF;"
    "PRAGMA page_size = 4096;"
    "CREATE TABLE metadata (name TEXT, value TEXT);"
    "CREATE UNIQUE INDEX name ON metadata (name);"
    "CREATE TABLE map (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_id TEXT);"
    "CREATE UNIQUE INDEX map_index ON map (zoom_level, tile_column, tile_row);"
    "CREATE TABLE images (tile_data BLOB, tile_id TEXT);"
    "CREATE UNIQUE INDEX images_id ON images (tile_id);"
    "CREATE VIEW tiles AS SELECT map.zoom_level AS zoom_level, map.tile_column AS tile_column,"
    " map.tile_row AS tile_row, images.tile_data AS tile_data"
    " FROM map JOIN images ON images.tile_id = map.tile_id;"
    "BEGIN;";

struct tq_mbtiles {
    char *path, *partial;
    sqlite3 *db;
    sqlite3_stmt *ins_map, *ins_image, *get_image;
    struct tq_dedup *dedup;
    struct tq_mbtiles_stats st;
    char *err;
    size_t errsize;
};

static int db_fail(struct tq_mbtiles *m, const char *what)
{
    snprintf(m->err, m->errsize, "%s: %s", what, m->db ? sqlite3_errmsg(m->db) : "no database");
    return -1;
}

/* tq_dedup's check: reads the stored image back. ref->a is its tile_id. */
static int stored_same(void *arg, const struct tq_dedup_ref *ref, const void *data, size_t len)
{
    struct tq_mbtiles *m = arg;
    int rc = -1;
    sqlite3_reset(m->get_image);
    sqlite3_bind_int64(m->get_image, 1, (sqlite3_int64)ref->a);
    if (sqlite3_step(m->get_image) != SQLITE_ROW) {
        db_fail(m, "reading back an image");
        goto cleanup;
    }
    const void *blob = sqlite3_column_blob(m->get_image, 0);
    int n = sqlite3_column_bytes(m->get_image, 0);
    rc = tq_archive_same_content(data, len, blob, (size_t)n);
cleanup:
    sqlite3_reset(m->get_image);
    return rc;
}

struct tq_mbtiles *tq_mbtiles_open(const char *path, char *err, size_t errsize)
{
    struct tq_mbtiles *m = calloc(1, sizeof *m);
    if (m == NULL)
        goto oom;
    m->err = err;
    m->errsize = errsize;
    m->path = strdup(path);
    m->partial = malloc(strlen(path) + sizeof ".partial");
    m->dedup = tq_dedup_new(stored_same, m);
    if (m->path == NULL || m->partial == NULL || m->dedup == NULL)
        goto oom;
    sprintf(m->partial, "%s.partial", path);
    if (unlink(m->partial) != 0 && errno != ENOENT) { /* left by an interrupted run */
        snprintf(err, errsize, "cannot remove %s: %s", m->partial, strerror(errno));
        goto error;
    }
    if (sqlite3_open_v2(m->partial, &m->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        db_fail(m, m->partial);
        goto error;
    }
    char *msg = NULL;
    if (sqlite3_exec(m->db, SCHEMA, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errsize, "creating the MBTiles schema: %s", msg ? msg : "?");
        sqlite3_free(msg);
        goto error;
    }
    if (sqlite3_prepare_v2(m->db,
                           "INSERT INTO map (zoom_level, tile_column, tile_row, tile_id) "
                           "VALUES (?, ?, ?, ?)",
                           -1, &m->ins_map, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(m->db, "INSERT INTO images (rowid, tile_data, tile_id) VALUES (?, ?, ?)",
                           -1, &m->ins_image, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(m->db, "SELECT tile_data FROM images WHERE rowid = ?", -1, &m->get_image,
                           NULL) != SQLITE_OK) {
        db_fail(m, "preparing statements");
        goto error;
    }
    return m;
oom:
    snprintf(err, errsize, "out of memory");
error:
    tq_mbtiles_free(m);
    return NULL;
}

int tq_mbtiles_add(struct tq_mbtiles *m, struct tq_tile t, const void *data, size_t len, char *err,
                   size_t errsize)
{
    struct tq_dedup_ref ref;
    unsigned char *gz = NULL;
    int rc = -1;

    m->err = err;
    m->errsize = errsize;
    err[0] = '\0';
    if (len == 0) {
        m->st.empty++;
        return 0;
    }
    const void *bytes = NULL;
    size_t n = 0;
    int found = tq_dedup_lookup(m->dedup, data, len, &ref, &bytes, &n, &gz, err, errsize);
    if (found < 0)
        goto cleanup;
    if (!found) {
        ref.a = m->st.contents + 1; /* rowid, and tile_id as text */
        ref.b = n;
        char id[24];
        snprintf(id, sizeof id, "%llu", (unsigned long long)ref.a);
        sqlite3_reset(m->ins_image);
        sqlite3_bind_int64(m->ins_image, 1, (sqlite3_int64)ref.a);
        sqlite3_bind_blob(m->ins_image, 2, bytes, (int)n, SQLITE_STATIC);
        sqlite3_bind_text(m->ins_image, 3, id, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(m->ins_image) != SQLITE_DONE) {
            db_fail(m, "inserting an image");
            goto cleanup;
        }
        sqlite3_reset(m->ins_image); /* drops the reference to bytes */
        m->st.contents++;
        m->st.data_bytes += n;
        if (tq_dedup_insert(m->dedup, &ref) != 0) {
            snprintf(err, errsize, "out of memory");
            goto cleanup;
        }
    }
    char id[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)ref.a);
    sqlite3_reset(m->ins_map);
    sqlite3_bind_int(m->ins_map, 1, t.z);
    sqlite3_bind_int64(m->ins_map, 2, t.x);
    sqlite3_bind_int64(m->ins_map, 3, (sqlite3_int64)tq_tile_grid_size(t.z) - 1 - t.y); /* TMS */
    sqlite3_bind_text(m->ins_map, 4, id, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(m->ins_map) != SQLITE_DONE) {
        db_fail(m, "inserting a tile");
        goto cleanup;
    }
    m->st.addressed++;
    rc = 0;
cleanup:
    free(gz);
    return rc;
}

static int put_meta(struct tq_mbtiles *m, sqlite3_stmt *st, const char *name, const char *value)
{
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        return db_fail(m, "writing metadata");
    return 0;
}

int tq_mbtiles_finish(struct tq_mbtiles *m, const struct tq_archive_info *info, char *err,
                      size_t errsize)
{
    sqlite3_stmt *st = NULL;
    char bounds[128], center[96], minz[8], maxz[8];
    int rc = -1, fd = -1;

    m->err = err;
    m->errsize = errsize;
    snprintf(bounds, sizeof bounds, "%.6f,%.6f,%.6f,%.6f", info->bounds[0], info->bounds[1],
             info->bounds[2], info->bounds[3]);
    snprintf(center, sizeof center, "%.6f,%.6f,%d", info->center[0], info->center[1],
             (int)info->center[2]);
    snprintf(minz, sizeof minz, "%d", info->minzoom);
    snprintf(maxz, sizeof maxz, "%d", info->maxzoom);
    if (sqlite3_prepare_v2(m->db, "INSERT INTO metadata (name, value) VALUES (?, ?)", -1, &st,
                           NULL) != SQLITE_OK) {
        db_fail(m, "preparing metadata");
        goto cleanup;
    }
    if (put_meta(m, st, "name", info->name) != 0 || put_meta(m, st, "format", "pbf") != 0 ||
        put_meta(m, st, "bounds", bounds) != 0 || put_meta(m, st, "center", center) != 0 ||
        put_meta(m, st, "minzoom", minz) != 0 || put_meta(m, st, "maxzoom", maxz) != 0 ||
        put_meta(m, st, "type", "overlay") != 0 || put_meta(m, st, "version", "1") != 0 ||
        put_meta(m, st, "description", info->description ? info->description : info->name) != 0 ||
        put_meta(m, st, "json", info->metadata_json ? info->metadata_json : "{}") != 0)
        goto cleanup;
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_exec(m->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        db_fail(m, "commit");
        goto cleanup;
    }
    sqlite3_finalize(m->ins_map);
    sqlite3_finalize(m->ins_image);
    sqlite3_finalize(m->get_image);
    m->ins_map = m->ins_image = m->get_image = NULL;
    if (sqlite3_close(m->db) != SQLITE_OK) {
        db_fail(m, "close");
        goto cleanup;
    }
    m->db = NULL;
    fd = open(m->partial, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        snprintf(err, errsize, "fsync %s: %s", m->partial, strerror(errno));
        goto cleanup;
    }
    if (rename(m->partial, m->path) != 0) {
        snprintf(err, errsize, "cannot rename %s to %s: %s", m->partial, m->path, strerror(errno));
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (fd >= 0)
        close(fd);
    if (rc != 0 && m->db == NULL) /* closed, not renamed */
        unlink(m->partial);
    sqlite3_finalize(st);
    return rc;
}

void tq_mbtiles_stats(const struct tq_mbtiles *m, struct tq_mbtiles_stats *st)
{
    *st = m->st;
}

void tq_mbtiles_free(struct tq_mbtiles *m)
{
    if (m == NULL)
        return;
    sqlite3_finalize(m->ins_map);
    sqlite3_finalize(m->ins_image);
    sqlite3_finalize(m->get_image);
    if (m->db) { /* unfinished: abandon the partial file */
        sqlite3_close(m->db);
        unlink(m->partial);
    }
    tq_dedup_free(m->dedup);
    free(m->path);
    free(m->partial);
    free(m);
}
