//! Attacks on identity and joining: ids squatted in another buurt, and joins retried after a lost
//! answer (issue 11, findings 6 and 8); plus two smaller ones of finding 9 (display names that
//! hide or reorder text, the join rate limit behind one address).

use noaber_core::sync::wire::{JoinRequest, JoinResponse, SyncRequest};
use noaber_core::{MemberId, Role};
use noaber_relay::Config;
use noaber_relay::invite;
use reqwest::StatusCode;

use crate::support::{Device, TestRelay, TestResult, code};

fn actor() -> String {
    automerge::ActorId::random().to_hex_string()
}

fn secret() -> String {
    let bytes: [u8; 32] = rand_bytes();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn rand_bytes() -> [u8; 32] {
    let a = automerge::ActorId::random();
    let b = automerge::ActorId::random();
    let mut out = [0u8; 32];
    out[..16].copy_from_slice(&a.to_bytes()[..16]);
    out[16..].copy_from_slice(&b.to_bytes()[..16]);
    out
}

fn request(invite: &str, member: &MemberId, actor: &str, secret: Option<&str>) -> JoinRequest {
    JoinRequest {
        v: 1,
        invite: invite.into(),
        display_name: "Ans".into(),
        member: member.to_string(),
        actors: vec![actor.into()],
        join_secret: secret.map(str::to_owned),
    }
}

async fn joined(relay: &TestRelay, req: &JoinRequest) -> TestResult<JoinResponse> {
    Ok(relay.join(req).await?.map_err(|e| format!("{e:?}"))?)
}

async fn refused(relay: &TestRelay, req: &JoinRequest) -> TestResult<(StatusCode, String)> {
    let e = relay.join(req).await?.err().ok_or("join accepted")?;
    Ok((e.0, code(&e).to_owned()))
}

/// The token works: an empty sync round is answered.
async fn token_works(relay: &TestRelay, token: &str) -> TestResult {
    let req = SyncRequest {
        v: 1,
        cursor: 0,
        push: Vec::new(),
        max: None,
    };
    relay
        .sync(token, &req)
        .await?
        .map_err(|e| format!("token refused: {e:?}"))?;
    Ok(())
}

/// Finding 6. Eve is in buurt B with Ans and sees Ans's member and actor ids in B's changes;
/// she holds an invite to buurt A, where Ans is about to join. Registering Ans's ids in A is
/// refused, nothing is stored, Eve's invite is not used up, and Ans's join to A (with ids of
/// her own for A, as devices now make) works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn squatting_a_members_ids_in_another_buurt_is_refused() -> TestResult {
    let relay = TestRelay::start().await?;
    let (a, _) = relay.buurt("Alpha")?;
    let (b, b_org) = relay.buurt("Beta")?;
    let mut ans = Device::join(&relay, &b_org, "Ans", Role::Organiser).await?;
    let victim = ans.store.identity();
    let eve_invite = relay.invite(&a, Role::Resident, 1)?;

    // Ans's member id, with a fresh actor.
    let squat = request(&eve_invite, &victim.member, &actor(), None);
    assert_eq!(
        refused(&relay, &squat).await?,
        (StatusCode::CONFLICT, "member_taken".into())
    );
    // Ans's actor id, with a fresh member id.
    let squat = request(&eve_invite, &MemberId::new()?, &victim.actor, None);
    assert_eq!(
        refused(&relay, &squat).await?,
        (StatusCode::CONFLICT, "actor_taken".into())
    );
    // Both, and with a join secret of Eve's: the same.
    let squat = request(&eve_invite, &victim.member, &victim.actor, Some(&secret()));
    assert_eq!(
        refused(&relay, &squat).await?,
        (StatusCode::CONFLICT, "member_taken".into())
    );
    // Nothing stored in A; the invite (one use) is still unused: Ans's own join to A works.
    assert!(relay.storage().members(&a)?.is_empty());
    assert!(relay.storage().devices(&a)?.is_empty());
    let ans_in_a = joined(
        &relay,
        &request(&eve_invite, &MemberId::new()?, &actor(), Some(&secret())),
    )
    .await?;
    assert_eq!(ans_in_a.buurt, a.to_string());
    token_works(&relay, &ans_in_a.token).await?;
    // B keeps serving Ans under her ids there.
    crate::support::ask(&ans, "Ladder lenen")?;
    let resp = ans.sync(&relay).await?;
    assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);
    assert_eq!(relay.storage().members(&b)?.len(), 1);
    Ok(())
}

/// Finding 8. The answer to a join is lost (here: simply not read) and the device sends the
/// same request again, with the same `join_secret`: it gets its device and token back, the
/// invite (one use) is not used again, and the token works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_whose_answer_was_lost_is_retried_with_its_secret() -> TestResult {
    let relay = TestRelay::start().await?;
    let (a, _) = relay.buurt("Alpha")?;
    let code_ = relay.invite(&a, Role::Caretaker, 1)?;
    let req = request(&code_, &MemberId::new()?, &actor(), Some(&secret()));
    let first = joined(&relay, &req).await?;
    let again = joined(&relay, &req).await?;
    assert_eq!(again, first, "the same device, token and role");
    assert_eq!(again.role, "caretaker");
    token_works(&relay, &again.token).await?;
    let devices = relay.storage().devices(&a)?;
    assert_eq!(devices.len(), 1);
    // The invite was used once: anyone else is refused as before.
    let other = request(&code_, &MemberId::new()?, &actor(), Some(&secret()));
    assert_eq!(
        refused(&relay, &other).await?,
        (StatusCode::FORBIDDEN, "invite_invalid".into())
    );
    // An old client (no secret) retrying gets today's refusal.
    let mut old = req.clone();
    old.join_secret = None;
    assert_eq!(
        refused(&relay, &old).await?,
        (StatusCode::FORBIDDEN, "invite_invalid".into())
    );
    Ok(())
}

/// Finding 8. Someone replaying a device's join with a secret of their own (or none, or the
/// device's secret for another set of ids) gets the existing refusals; a revoked device's
/// secret no longer works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_with_another_secret_or_other_ids_is_refused() -> TestResult {
    let relay = TestRelay::start().await?;
    let (a, _) = relay.buurt("Alpha")?;
    let code_ = relay.invite(&a, Role::Resident, 5)?;
    let (member, act, s) = (MemberId::new()?, actor(), secret());
    let first = joined(&relay, &request(&code_, &member, &act, Some(&s))).await?;

    for other in [Some(secret()), None] {
        let r = request(&code_, &member, &act, other.as_deref());
        assert_eq!(
            refused(&relay, &r).await?,
            (StatusCode::CONFLICT, "member_taken".into())
        );
    }
    // The device's secret with other ids: not the same join.
    for r in [
        request(&code_, &member, &actor(), Some(&s)),
        request(&code_, &MemberId::new()?, &act, Some(&s)),
    ] {
        assert_eq!(
            refused(&relay, &r).await?,
            (StatusCode::CONFLICT, "join_secret_taken".into())
        );
    }
    // Through another invite of the buurt: not the same join either.
    let second = relay.invite(&a, Role::Organiser, 1)?;
    assert_eq!(
        refused(&relay, &request(&second, &member, &act, Some(&s))).await?,
        (StatusCode::CONFLICT, "join_secret_taken".into())
    );
    // A malformed secret.
    let r = request(&code_, &MemberId::new()?, &actor(), Some("abc"));
    assert_eq!(
        refused(&relay, &r).await?,
        (StatusCode::BAD_REQUEST, "bad_request".into())
    );
    assert_eq!(relay.storage().devices(&a)?.len(), 1);
    // Revoked by the operator: the secret is dead.
    let device = noaber_relay::DeviceId::parse(&first.device)?;
    assert!(
        relay
            .storage()
            .revoke_device(&device, crate::support::now_ms())?
    );
    assert_eq!(
        refused(&relay, &request(&code_, &member, &act, Some(&s))).await?,
        (StatusCode::CONFLICT, "join_secret_taken".into())
    );
    assert_eq!(relay.storage().devices(&a)?.len(), 1);
    Ok(())
}

/// Finding 8. The device's retry races its first attempt (or two retries race): one device,
/// and every answer carries its token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_identical_retries_enrol_one_device() -> TestResult {
    let relay = TestRelay::start().await?;
    let (a, _) = relay.buurt("Alpha")?;
    let code_ = relay.invite(&a, Role::Resident, 1)?;
    let req = request(&code_, &MemberId::new()?, &actor(), Some(&secret()));
    let (r1, r2, r3, r4) = tokio::join!(
        relay.join(&req),
        relay.join(&req),
        relay.join(&req),
        relay.join(&req)
    );
    let answers: Vec<JoinResponse> = [r1?, r2?, r3?, r4?]
        .into_iter()
        .map(|r| r.map_err(|e| format!("{e:?}")))
        .collect::<Result<_, _>>()?;
    assert!(answers.iter().all(|x| *x == answers[0]), "{answers:?}");
    assert_eq!(relay.storage().devices(&a)?.len(), 1);
    token_works(&relay, &answers[0].token).await?;
    Ok(())
}

/// Finding 9. Display names that reorder or hide text are refused at join (`400 bad_request`,
/// naming `display_name`), nothing stored; an ordinary name then joins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn display_names_that_hide_or_reorder_text_are_refused() -> TestResult {
    let relay = TestRelay::start().await?;
    let (a, _) = relay.buurt("Alpha")?;
    let code_ = relay.invite(&a, Role::Resident, 1)?;
    let long = "a".repeat(81);
    let bad = [
        "Ans\u{202E}sneoJ",
        "\u{2067}Ans",
        "An\u{200B}s",
        "Ans\u{200D}",
        "\u{FEFF}Ans",
        "An\u{2060}s",
        "Ans\u{E0041}",
        "\u{00AD}",
        "\u{3164}",
        "An\u{0007}s",
        "Ans\nBos",
        "   ",
        long.as_str(),
    ];
    for name in bad {
        let mut r = request(&code_, &MemberId::new()?, &actor(), None);
        r.display_name = name.into();
        let e = relay.join(&r).await?.err().ok_or("name accepted")?;
        assert_eq!((e.0, code(&e)), (StatusCode::BAD_REQUEST, "bad_request"));
        assert!(
            e.1.error.message.contains("display_name"),
            "{}",
            e.1.error.message
        );
    }
    assert!(relay.storage().members(&a)?.is_empty());
    let mut r = request(&code_, &MemberId::new()?, &actor(), None);
    r.display_name = " Ümit Yılmaz 🌻 ".into();
    joined(&relay, &r).await?;
    assert_eq!(
        relay.storage().members(&a)?[0].display_name,
        "Ümit Yılmaz 🌻"
    );
    Ok(())
}

/// Finding 9. Behind one address (a housing complex's NAT) many residents join with their own
/// invites at once; one invite hammered meets its own limit, from that address or any; guessing
/// codes from one address still meets the address limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_join_limit_is_per_invite_and_generous_per_address() -> TestResult {
    let defaults = Config::default();
    let relay = TestRelay::start_with(|c| {
        c.join_burst = defaults.join_burst;
        c.join_per_minute = defaults.join_per_minute;
        c.join_per_invite_burst = 3;
        c.join_per_invite_per_minute = 1;
    })
    .await?;
    let (a, _) = relay.buurt("Alpha")?;
    // 40 residents, each with their own invite, all from 127.0.0.1 (the old limit let 10 in).
    let mut spent = 0usize;
    for _ in 0..40 {
        let code_ = relay.invite(&a, Role::Resident, 1)?;
        joined(&relay, &request(&code_, &MemberId::new()?, &actor(), None)).await?;
        spent += 1;
    }
    assert_eq!(relay.storage().members(&a)?.len(), 40);
    // One invite tried over and over: three attempts, then `429`; another invite still joins.
    let shared = relay.invite(&a, Role::Resident, 100)?;
    for _ in 0..3 {
        joined(&relay, &request(&shared, &MemberId::new()?, &actor(), None)).await?;
        spent += 1;
    }
    assert_eq!(
        refused(&relay, &request(&shared, &MemberId::new()?, &actor(), None)).await?,
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited".into())
    );
    spent += 1;
    let fresh = relay.invite(&a, Role::Resident, 1)?;
    joined(&relay, &request(&fresh, &MemberId::new()?, &actor(), None)).await?;
    spent += 1;
    // Guessing codes from the same address: the address budget (what is left of 60 at once,
    // refilling at 30 a minute) runs out.
    let mut statuses = Vec::new();
    while statuses.len() < 200 {
        let guess = request(&invite::new_code()?, &MemberId::new()?, &actor(), None);
        let got = refused(&relay, &guess).await?;
        let limited = got.0 == StatusCode::TOO_MANY_REQUESTS;
        statuses.push(got);
        if limited {
            break;
        }
    }
    assert_eq!(
        statuses.first(),
        Some(&(StatusCode::FORBIDDEN, "invite_invalid".into()))
    );
    assert_eq!(
        statuses.last(),
        Some(&(StatusCode::TOO_MANY_REQUESTS, "rate_limited".into()))
    );
    assert!(
        spent + statuses.len() <= 100,
        "{} guesses let through",
        statuses.len()
    );
    Ok(())
}
