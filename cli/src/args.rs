//! Shared value parsers and flag groups.
//!
//! Ids, kinds and roles are parsed once, by clap, so a malformed one is a usage error (exit
//! code 2) naming the argument, and `--help` lists the values a closed set allows.

use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use noaber_core::{Audience, EntityId, Error, Kind, MemberId, Role};

/// Parses an entity id argument (32 lowercase hex digits).
pub(crate) fn entity_id(s: &str) -> Result<EntityId, Error> {
    EntityId::parse(s.trim())
}

/// Parses a member id argument (32 lowercase hex digits).
pub(crate) fn member_id(s: &str) -> Result<MemberId, Error> {
    MemberId::parse(s.trim())
}

/// Parses `--audience`.
pub(crate) fn audience(s: &str) -> Result<Audience, Error> {
    Audience::parse(s.trim())
}

/// A kind argument, or `all`; `--help` lists the values.
pub(crate) fn kind_or_all() -> impl TypedValueParser<Value = KindOrAll> {
    let names = std::iter::once("all").chain(Kind::ALL.iter().map(|k| k.as_str()));
    PossibleValuesParser::new(names).try_map(|s| match s.as_str() {
        "all" => Ok(KindOrAll(None)),
        k => Kind::parse(k).map(|k| KindOrAll(Some(k))),
    })
}

/// One kind, or every kind (`all`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct KindOrAll(pub(crate) Option<Kind>);

/// A role argument; `--help` lists the values.
pub(crate) fn role() -> impl TypedValueParser<Value = Role> {
    PossibleValuesParser::new(Role::ALL.map(Role::as_str)).try_map(|s| Role::parse(&s))
}

/// An exact point: `--lat` and `--lon`, both or neither.
#[derive(Debug, Args)]
pub(crate) struct Point {
    /// Latitude of an exact point (with --lon).
    #[arg(long, requires = "lon", allow_negative_numbers = true)]
    pub(crate) lat: Option<f64>,
    /// Longitude of an exact point (with --lat).
    #[arg(long, requires = "lat", allow_negative_numbers = true)]
    pub(crate) lon: Option<f64>,
}

impl Point {
    /// The point, when both halves are given (clap makes sure it is both or neither).
    pub(crate) fn get(&self) -> Option<(f64, f64)> {
        self.lat.zip(self.lon)
    }
}

/// A point edit: `--lat`/`--lon` set it, `--no-point` removes it. Each flag counts as a change
/// of the surrounding command's `change` group.
#[derive(Debug, Args)]
pub(crate) struct PointEdit {
    /// New latitude (with --lon).
    #[arg(
        long,
        group = "change",
        requires = "lon",
        allow_negative_numbers = true
    )]
    lat: Option<f64>,
    /// New longitude (with --lat).
    #[arg(
        long,
        group = "change",
        requires = "lat",
        allow_negative_numbers = true
    )]
    lon: Option<f64>,
    /// Remove the exact point.
    #[arg(long, group = "change", conflicts_with_all = ["lat", "lon"])]
    no_point: bool,
}

impl PointEdit {
    /// `Some(None)` removes the point, `Some(Some(p))` sets it, `None` keeps it.
    pub(crate) fn get(&self) -> Option<Option<(f64, f64)>> {
        if self.no_point {
            Some(None)
        } else {
            self.lat.zip(self.lon).map(Some)
        }
    }
}
