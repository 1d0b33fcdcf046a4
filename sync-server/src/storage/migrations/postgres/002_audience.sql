-- 002: document audiences (who may read a document; see `noaber_core::audience`), as SQLite's
-- `002_audience.sql`.
--
-- `audience`: 0 the whole buurt, 1 organisers, 2 participants. It is fixed by a document's
-- first change and copied onto each of its log rows, so a pull filters rows without a join.

ALTER TABLE documents ADD COLUMN audience SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE log ADD COLUMN audience SMALLINT NOT NULL DEFAULT 0;

-- The readers of restricted documents besides coordinators; they only ever grow.
CREATE TABLE readers (
    doc    BYTEA NOT NULL,
    member TEXT NOT NULL,
    buurt  BIGINT NOT NULL REFERENCES buurten(n),
    seq    BIGINT NOT NULL,                 -- the change that made them a reader
    PRIMARY KEY (doc, member)
);
