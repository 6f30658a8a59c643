-- Up Migration
-- The Redis stream entry id each outbox row was published as, in its two parts (milliseconds-sequence), so
-- it orders as Redis orders ids. The relay compares the highest id recorded here with the stream's last
-- generated id: a stream that is behind (Redis restarted from an older snapshot, or flushed) lost the
-- entries above it, and their rows are published again.
ALTER TABLE outbox
  ADD COLUMN stream_ms  bigint,
  ADD COLUMN stream_seq bigint;
CREATE INDEX outbox_stream_position ON outbox (stream_ms, stream_seq) WHERE published_at IS NOT NULL AND stream_ms IS NOT NULL;

-- Down Migration
DROP INDEX outbox_stream_position;
ALTER TABLE outbox DROP COLUMN stream_seq, DROP COLUMN stream_ms;
