-- 004: find a document's changes that wait for the relay (list rows say "not sent yet").
CREATE INDEX outbox_waiting_by_doc ON outbox(doc_id) WHERE acked_at IS NULL AND rejected_code IS NULL;
