//! Reading the projections: list, search, counts, notices; and rebuilding them.

use clap::Args;
use noaber_core::{Error, ListQuery, Order, Store};

use crate::args::{KindOrAll, kind_or_all};
use crate::out::{Out, say};
use crate::time;

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// The kind to list, or all of them.
    #[arg(value_parser = kind_or_all())]
    kind: KindOrAll,
    /// Only this status (open, matched, done, cancelled, expired, upcoming, active, due, overdue, reported, ...).
    #[arg(long)]
    status: Option<String>,
    /// Only this category.
    #[arg(long)]
    category: Option<String>,
    /// Only what you take part in.
    #[arg(long)]
    mine: bool,
    /// Only what needs a response.
    #[arg(long)]
    needs_response: bool,
    /// Only from this time on.
    #[arg(long, value_parser = time::parse_ms)]
    from: Option<i64>,
    /// Only up to this time.
    #[arg(long, value_parser = time::parse_ms)]
    to: Option<i64>,
    /// Only inside SOUTH,WEST,NORTH,EAST.
    #[arg(long)]
    bbox: Option<String>,
    /// Only matching these words.
    #[arg(long)]
    search: Option<String>,
    /// Soonest start first instead of most recent activity.
    #[arg(long)]
    upcoming: bool,
    /// Page size (max 500).
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// Continue after this cursor (printed at the end of the previous page).
    #[arg(long)]
    after: Option<String>,
}

/// The arguments of `search`.
#[derive(Debug, Args)]
pub(crate) struct SearchArgs {
    /// Words to look for (prefix matched).
    text: String,
    /// Page size.
    #[arg(long, default_value_t = 50)]
    limit: u32,
}

/// Lists entities of a kind (or all) with the filters given.
pub(crate) fn list(store: &Store, out: &Out, a: ListArgs) -> Result<(), Error> {
    let KindOrAll(kind) = a.kind;
    let bbox = match a.bbox.as_deref() {
        None => None,
        Some(s) => {
            let parts: Vec<f64> = s
                .split(',')
                .map(|p| p.trim().parse::<f64>())
                .collect::<Result<_, _>>()
                .map_err(|_| Error::InvalidInput {
                    field: "bbox",
                    reason: format!("`{s}` is not SOUTH,WEST,NORTH,EAST"),
                })?;
            let [south, west, north, east] = parts[..] else {
                return Err(Error::InvalidInput {
                    field: "bbox",
                    reason: format!("`{s}` is not SOUTH,WEST,NORTH,EAST"),
                });
            };
            Some(noaber_core::BBox {
                south,
                west,
                north,
                east,
            })
        }
    };
    let q = ListQuery {
        kind,
        status: a.status,
        category: a.category,
        from: a.from,
        to: a.to,
        bbox,
        mine: a.mine,
        needs_response: a.needs_response,
        text: a.search,
        order: if a.upcoming {
            Order::Upcoming
        } else {
            Order::Recent
        },
        limit: a.limit,
        after: a.after,
    };
    let page = store.list(&q)?;
    print_page(out, &page)
}

/// Full-text search over titles, bodies and comments.
pub(crate) fn search(store: &Store, out: &Out, a: SearchArgs) -> Result<(), Error> {
    let page = store.list(&ListQuery {
        text: Some(a.text),
        limit: a.limit,
        ..Default::default()
    })?;
    print_page(out, &page)
}

/// Counts per kind and status.
pub(crate) fn counts(store: &Store, out: &Out) -> Result<(), Error> {
    let counts = store.status_counts()?;
    out.print(&counts, || {
        counts
            .iter()
            .map(|c| format!("{:<8} {:<12} {}", c.kind.as_str(), c.status, c.count))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// What the local member should be told.
pub(crate) fn notices(store: &Store, out: &Out) -> Result<(), Error> {
    let notices = store.my_notices()?;
    out.print(&notices, || {
        if notices.is_empty() {
            return "(nothing)".into();
        }
        notices
            .iter()
            .map(|n| format!("{}  {}: {} ({})", n.entity, n.title, n.text, n.code))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// Derives every projection again from the documents.
pub(crate) fn rebuild(store: &Store, out: &Out) -> Result<(), Error> {
    let n = store.rebuild_projections()?;
    out.print(&serde_json::json!({ "rebuilt": n }), || {
        format!("rebuilt {n} entities")
    })
}

/// Prints a page of summaries: one line each, or a JSON array (the next cursor to stderr).
fn print_page(out: &Out, page: &noaber_core::Page) -> Result<(), Error> {
    if out.json {
        // Scripts get the array; the cursor for the next page goes to stderr.
        out.print(&page.items, String::new)?;
        if let Some(next) = &page.next {
            eprintln!("next: {next}");
        }
        return Ok(());
    }
    for s in &page.items {
        let when = s.starts_at.map(time::show).unwrap_or_default();
        let cat = s.category.as_deref().unwrap_or("");
        let unsent = if s.unsynced { "  (not sent yet)" } else { "" };
        say(&format!(
            "{}  {:<8} {:<11} {:<12} {}  {}{unsent}",
            s.id,
            s.kind.as_str(),
            s.status,
            cat,
            s.title,
            when
        ))?;
    }
    if page.items.is_empty() {
        say("(nothing)")?;
    }
    if let Some(next) = &page.next {
        say(&format!("more: --after {next}"))?;
    }
    Ok(())
}
