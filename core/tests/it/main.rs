//! Public-API tests of `noaber-core`: one integration binary (STYLE.md).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod convergence;
mod crash;
mod golden;
mod hostile;
mod layers;
mod photo;
mod photos;
mod store;
mod support;
