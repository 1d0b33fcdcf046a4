-- 007: a list row's kind-specific figures live only in `entities.detail`, as a typed, versioned
-- JSON object (`core/src/model/detail.rs`, docs/schema.md). The per-kind tables were written on
-- every change and read by nothing but a diagnostic dump: dropped. The rows already in
-- `entities.detail` are of the untyped format; the store re-derives every projection the first
-- time it opens after this migration (the `projection_version` setting, see store/mod.rs).
DROP TABLE help_requests;
DROP TABLE events;
DROP TABLE tasks;
DROP TABLE reports;
DROP TABLE profiles;
