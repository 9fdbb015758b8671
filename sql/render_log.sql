-- tileq.render_log: one row per rendered tile, moved here from the Redis stream
-- {tq}:renderlog by tq_renderlog_flush() (common/tq_renderlog.c). This file is the single
-- source of truth for the DDL: CMake embeds it into the common library, which runs it
-- once per connection, so every statement must be idempotent (IF NOT EXISTS).
CREATE SCHEMA IF NOT EXISTS tileq;

CREATE TABLE IF NOT EXISTS tileq.render_log (
    stream_id   text PRIMARY KEY,          -- Redis stream entry id: a retried batch is a no-op
    tileset     text NOT NULL,
    z           smallint NOT NULL,
    x           integer NOT NULL,
    y           integer NOT NULL,
    metatile    text NOT NULL,             -- "z/mx/my", the metatile's top-left tile
    job_id      text NOT NULL,             -- "tileset/z/mx/my"
    attempt     integer NOT NULL,
    reason      text NOT NULL,             -- request | warm | expire | retry | change
    worker      text NOT NULL,
    started     timestamptz NOT NULL,      -- when the metatile's SQL started
    duration_ms double precision NOT NULL, -- this tile's share of the metatile's SQL time
    metatile_ms double precision NOT NULL, -- the whole metatile's SQL time
    bytes       bigint NOT NULL,
    empty       boolean NOT NULL
);

-- Report filters (--since/--until, --tileset, --zoom) and per-tile grouping.
CREATE INDEX IF NOT EXISTS render_log_started_idx ON tileq.render_log (started);
CREATE INDEX IF NOT EXISTS render_log_tile_idx ON tileq.render_log (tileset, z, x, y);
CREATE INDEX IF NOT EXISTS render_log_job_idx ON tileq.render_log (job_id, started);
