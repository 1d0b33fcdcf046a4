//! Subcommands of the event, task, report and profile kinds.

use clap::Subcommand;
use noaber_core::{Error, Store};

use crate::Out;

/// Event subcommands.
#[derive(Debug, Subcommand)]
pub enum EventCmd {}
/// Task subcommands.
#[derive(Debug, Subcommand)]
pub enum TaskCmd {}
/// Report subcommands.
#[derive(Debug, Subcommand)]
pub enum ReportCmd {}
/// Profile subcommands.
#[derive(Debug, Subcommand)]
pub enum ProfileCmd {}

pub fn event(_s: &Store, _o: &Out, c: EventCmd) -> Result<(), Error> {
    match c {}
}
pub fn task(_s: &Store, _o: &Out, c: TaskCmd) -> Result<(), Error> {
    match c {}
}
pub fn report(_s: &Store, _o: &Out, c: ReportCmd) -> Result<(), Error> {
    match c {}
}
pub fn profile(_s: &Store, _o: &Out, c: ProfileCmd) -> Result<(), Error> {
    match c {}
}
