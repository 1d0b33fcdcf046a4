-- 008: the full-text index keeps no per-row token counts (`columnsize=0`): nothing ranks by
-- them (search only filters with MATCH), and they were one more page on every text write.
-- Its rows are derived, so it is recreated empty; the store re-derives every projection the
-- first time it opens after this migration (PROJECTION_RULES 2, see store/mod.rs).
DROP TABLE search;
CREATE VIRTUAL TABLE search USING fts5(
    title, body, comments,
    tokenize = 'unicode61 remove_diacritics 2',
    columnsize = 0
);
