//! Convergence under concurrency: random operations on three replicas, delivered in random
//! order with duplicates and drops, then a full exchange. Every replica must end with the same
//! documents (heads) and the same projection rows, and the derived state must obey the rule
//! written next to its code.

use noaber_core::model::help::{HelpStatus, NewHelp};
use noaber_core::{EntityId, Result, Role};
use proptest::prelude::*;

use crate::support::{Replica, sync_all};

/// One step of a scenario.
#[derive(Debug, Clone)]
enum Step {
    /// Replica `who` tries an action (it may be refused locally; that is fine).
    Act {
        who: usize,
        action: HelpAction,
        tick: i64,
    },
    /// Deliver some of `from`'s changes to `to`: `pick` chooses which (drops), `dup` repeats
    /// the batch, `rev` reverses the order (so dependencies arrive after their dependents).
    Deliver {
        from: usize,
        to: usize,
        pick: u64,
        dup: bool,
        rev: bool,
    },
}

#[derive(Debug, Clone)]
enum HelpAction {
    Respond,
    Withdraw,
    Match(usize),
    Unmatch,
    Done,
    Cancel,
    Edit(String),
    Comment,
}

fn action() -> impl Strategy<Value = HelpAction> {
    prop_oneof![
        3 => Just(HelpAction::Respond),
        1 => Just(HelpAction::Withdraw),
        3 => (0..3usize).prop_map(HelpAction::Match),
        1 => Just(HelpAction::Unmatch),
        2 => Just(HelpAction::Done),
        1 => Just(HelpAction::Cancel),
        1 => "[a-z ]{0,6}".prop_map(HelpAction::Edit),
        1 => Just(HelpAction::Comment),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..3usize, action(), 0..3i64).prop_map(|(who, action, tick)| Step::Act { who, action, tick }),
        2 => (0..3usize, 0..3usize, any::<u64>(), any::<bool>(), any::<bool>())
            .prop_map(|(from, to, pick, dup, rev)| Step::Deliver { from, to, pick, dup, rev }),
    ]
}

fn act(r: &Replica, id: &EntityId, a: &HelpAction, members: &[noaber_core::MemberId]) {
    let s = &r.store;
    let _ = match a {
        HelpAction::Respond => s.respond_help(id, "ik kan"),
        HelpAction::Withdraw => s.withdraw_help_response(id),
        HelpAction::Match(h) => s.match_help(id, &members[*h]),
        HelpAction::Unmatch => s.unmatch_help(id),
        HelpAction::Done => s.complete_help(id),
        HelpAction::Cancel => s.cancel_help(id, ""),
        HelpAction::Edit(t) => s.edit_help(id, None, Some(t)),
        HelpAction::Comment => s.add_comment(id, "hallo").map(|_| ()),
    };
}

fn run_help_scenario(steps: &[Step]) -> Result<()> {
    // Replica 0 asks; 1 is an organiser; 2 a neighbour.
    let rs = [
        Replica::new(Role::Resident)?,
        Replica::new(Role::Organiser)?,
        Replica::new(Role::Resident)?,
    ];
    let members: Vec<_> = rs.iter().map(Replica::member).collect();
    let id = rs[0]
        .store
        .create_help(&NewHelp::ask("groceries", "Boodschappen"))?;
    sync_all(&[&rs[0], &rs[1], &rs[2]])?;
    for s in steps {
        match s {
            Step::Act { who, action, tick } => {
                rs[*who].clock.advance(*tick);
                act(&rs[*who], &id, action, &members);
            }
            Step::Deliver {
                from,
                to,
                pick,
                dup,
                rev,
            } => {
                if from == to {
                    continue;
                }
                let all = rs[*from].outgoing()?;
                let mut batch: Vec<_> = all
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| pick >> (i % 64) & 1 == 1)
                    .map(|(_, c)| c)
                    .collect();
                if *rev {
                    batch.reverse();
                }
                if *dup {
                    batch.extend(batch.clone());
                }
                rs[*to].store.apply_remote_changes(&batch)?;
            }
        }
    }
    sync_all(&[&rs[0], &rs[1], &rs[2]])?;

    let heads = rs[0].store.heads(&id)?;
    let dump = rs[0].store.projection_dump()?;
    let view = rs[0].store.help(&id)?;
    for r in &rs[1..] {
        assert_eq!(r.store.heads(&id)?, heads, "same document everywhere");
        assert_eq!(
            r.store.projection_dump()?,
            dump,
            "same projections everywhere"
        );
        assert_eq!(r.store.help(&id)?, view, "same derived view everywhere");
    }
    // The rule: a matched request has exactly one helper, who responded and is not the requester;
    // no other status has a helper.
    match view.status {
        HelpStatus::Matched | HelpStatus::Done => {
            let helper = view.helper.clone().expect("matched implies a helper");
            assert_ne!(helper, members[0]);
            if view.status == HelpStatus::Matched {
                assert!(
                    view.responses.iter().any(|r| r.member == helper),
                    "the helper's response is active"
                );
            }
        }
        HelpStatus::Open => assert!(view.helper.is_none()),
        HelpStatus::Cancelled => {}
    }
    assert!(
        view.responses.iter().all(|r| r.member != members[0]),
        "the requester never responds"
    );
    // Rebuilding from documents gives the incrementally kept rows.
    rs[2].store.rebuild_projections()?;
    assert_eq!(rs[2].store.projection_dump()?, dump);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn help_requests_converge(steps in proptest::collection::vec(step(), 1..40)) {
        run_help_scenario(&steps).unwrap();
    }
}
