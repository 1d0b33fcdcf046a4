-- 006: a local change the relay refused for a reason that may pass (`missing_dependencies`,
-- `unavailable`, see docs/protocol.md) stays in the outbox and is pushed again: `retries` counts
-- those refusals, `retry_at` (ms, the store's clock) holds the change — and every later change
-- of its document, which depends on it — back until then (see `sync/engine.rs`).
ALTER TABLE outbox ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN retry_at INTEGER;
