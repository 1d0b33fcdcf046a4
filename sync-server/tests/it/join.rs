//! Joining: invites, tokens, rate limits, taken members and actors.

use noaber_core::sync::wire::{JoinRequest, SyncRequest};
use noaber_core::{MemberId, Role};
use noaber_relay::admin::{self, InviteOptions};
use noaber_relay::invite;
use noaber_relay::storage::NewInvite;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Device, TestRelay, TestResult, code, now_ms};

fn request(invite: &str, member: &MemberId, actor: &str) -> JoinRequest {
    JoinRequest {
        v: 1,
        invite: invite.into(),
        display_name: "Ans".into(),
        member: member.to_string(),
        actors: vec![actor.into()],
        join_secret: None,
    }
}

fn actor() -> String {
    automerge::ActorId::random().to_hex_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invite_enrols_a_device_whose_token_works() -> TestResult {
    let relay = TestRelay::start().await?;
    let (buurt, code_) = relay.buurt("Schildersbuurt")?;
    let member = MemberId::new()?;
    // Typed in lower case without dashes: the same code.
    let typed = code_.replace('-', "").to_lowercase();
    let joined = relay
        .join(&request(&typed, &member, &actor()))
        .await?
        .map_err(|e| format!("{e:?}"))?;
    assert_eq!(joined.buurt, buurt.to_string());
    assert_eq!(joined.buurt_name, "Schildersbuurt");
    assert_eq!(joined.member, member.to_string());
    assert_eq!(joined.role, "organiser");
    assert_eq!(joined.device.len(), 32);
    assert_eq!(joined.token.len(), 64);
    let resp = relay
        .sync(
            &joined.token,
            &SyncRequest {
                v: 1,
                cursor: 0,
                push: vec![],
                max: None,
            },
        )
        .await?
        .map_err(|e| format!("{e:?}"))?;
    assert_eq!((resp.cursor, resp.more, resp.pull.len()), (0, false, 0));
    // The organiser invite was for one use.
    let again = relay
        .join(&request(&code_, &MemberId::new()?, &actor()))
        .await?;
    let err = again.err().ok_or("second use accepted")?;
    assert_eq!(
        (err.0, code(&err)),
        (StatusCode::FORBIDDEN, "invite_invalid")
    );
    // The token is stored only as a hash: it is nowhere in the database file.
    let db = std::fs::read(relay.dir.path().join("relay.sqlite3"))?;
    let wal = std::fs::read(relay.dir.path().join("relay.sqlite3-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(!bytes.windows(64).any(|w| w == joined.token.as_bytes()));
        let canonical = invite::normalise(&code_)?;
        assert!(!bytes.windows(12).any(|w| w == canonical.as_bytes()));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_expired_used_up_and_malformed_invites_are_refused() -> TestResult {
    let relay = TestRelay::start().await?;
    let (buurt, _) = relay.buurt("Alpha")?;
    let refused = |r: Result<_, (StatusCode, _)>| r.err().map(|e| (e.0, code(&e).to_owned()));

    let unknown = invite::new_code()?;
    let r = relay
        .join(&request(&unknown, &MemberId::new()?, &actor()))
        .await?;
    assert_eq!(
        refused(r),
        Some((StatusCode::FORBIDDEN, "invite_invalid".into()))
    );

    let r = relay
        .join(&request("not a code", &MemberId::new()?, &actor()))
        .await?;
    assert_eq!(
        refused(r),
        Some((StatusCode::BAD_REQUEST, "invite_invalid".into()))
    );

    let expired = invite::new_code()?;
    relay.storage().create_invite(&NewInvite {
        hash: invite::hash(&expired)?,
        buurt: buurt.clone(),
        role: Role::Resident,
        member: None,
        created_at: now_ms() - 10_000,
        expires_at: now_ms() - 1,
        max_uses: 5,
    })?;
    let r = relay
        .join(&request(&expired, &MemberId::new()?, &actor()))
        .await?;
    let e = r.err().ok_or("expired invite accepted")?;
    assert_eq!((e.0, code(&e)), (StatusCode::FORBIDDEN, "invite_invalid"));
    assert!(
        e.1.error.message.contains("expired"),
        "{}",
        e.1.error.message
    );

    let twice = relay.invite(&buurt, Role::Resident, 2)?;
    for _ in 0..2 {
        relay
            .join(&request(&twice, &MemberId::new()?, &actor()))
            .await?
            .map_err(|e| format!("{e:?}"))?;
    }
    let r = relay
        .join(&request(&twice, &MemberId::new()?, &actor()))
        .await?;
    let e = r.err().ok_or("used-up invite accepted")?;
    assert_eq!((e.0, code(&e)), (StatusCode::FORBIDDEN, "invite_invalid"));
    assert!(e.1.error.message.contains("used"), "{}", e.1.error.message);
    // No message repeats the code it was given.
    assert!(!e.1.error.message.contains(&twice));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_join_requests_get_clear_errors() -> TestResult {
    let relay = TestRelay::start().await?;
    let (buurt, _) = relay.buurt("Alpha")?;
    let code_ = relay.invite(&buurt, Role::Resident, 10)?;
    let member = MemberId::new()?.to_string();
    let cases = [
        (
            json!({"v": 2, "invite": code_, "display_name": "A", "member": member, "actors": [actor()]}),
            400,
            "unsupported_version",
        ),
        (
            json!({"v": 1, "invite": code_, "display_name": "A", "member": "nope", "actors": [actor()]}),
            400,
            "bad_request",
        ),
        (
            json!({"v": 1, "invite": code_, "display_name": "", "member": member, "actors": [actor()]}),
            400,
            "bad_request",
        ),
        (
            json!({"v": 1, "invite": code_, "display_name": "A", "member": member, "actors": []}),
            400,
            "bad_request",
        ),
        (
            json!({"v": 1, "invite": code_, "display_name": "A", "member": member, "actors": vec![actor(); 9]}),
            400,
            "bad_request",
        ),
        (
            json!({"v": 1, "invite": code_, "display_name": "A", "member": member, "actors": ["XYZ"]}),
            400,
            "bad_request",
        ),
        (json!({"v": 1}), 400, "bad_request"),
        (json!([1, 2, 3]), 400, "bad_request"),
    ];
    for (body, status, want) in cases {
        let (s, b) = relay.join_raw(&body).await?;
        assert_eq!(
            (s.as_u16(), b["error"]["code"].as_str()),
            (status, Some(want)),
            "{body}"
        );
    }
    // Not JSON at all.
    let resp = relay
        .http
        .post(relay.url("/v1/join"))
        .body("x")
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Nothing was registered by any of them.
    assert!(relay.storage().members(&buurt)?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_is_rate_limited_per_client() -> TestResult {
    let relay = TestRelay::start_with(|c| {
        c.join_burst = 3;
        c.join_per_minute = 1;
    })
    .await?;
    relay.buurt("Alpha")?;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let r = relay
            .join(&request(&invite::new_code()?, &MemberId::new()?, &actor()))
            .await?;
        statuses.push(r.err().map(|e| (e.0.as_u16(), code(&e).to_owned())));
    }
    let guesses = Some((403, "invite_invalid".to_owned()));
    assert_eq!(statuses[..3], [guesses.clone(), guesses.clone(), guesses]);
    assert_eq!(statuses[3], Some((429, "rate_limited".into())));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_member_or_actor_is_refused_and_a_second_device_needs_a_bound_invite() -> TestResult
{
    let relay = TestRelay::start().await?;
    let (buurt, org) = relay.buurt("Alpha")?;
    let first = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let me = first.store.identity();
    let open = relay.invite(&buurt, Role::Resident, 10)?;

    // Someone else presenting Ans's member id with an ordinary invite.
    let r = relay.join(&request(&open, &me.member, &actor())).await?;
    let e = r.err().ok_or("member id taken over")?;
    assert_eq!((e.0, code(&e)), (StatusCode::CONFLICT, "member_taken"));

    // Someone else registering Ans's device actor.
    let r = relay
        .join(&request(&open, &MemberId::new()?, &me.actor))
        .await?;
    let e = r.err().ok_or("actor taken over")?;
    assert_eq!((e.0, code(&e)), (StatusCode::CONFLICT, "actor_taken"));

    // Ans's second phone: an invite bound to her member id.
    let bound = admin::create_invite(
        relay.storage(),
        &buurt,
        &InviteOptions {
            role: Role::Resident,
            expires: "1h".into(),
            uses: 1,
            member: Some(me.member.clone()),
        },
        now_ms(),
    )?;
    assert_eq!(
        bound.role,
        Role::Organiser,
        "a bound invite carries the member's role"
    );
    let second = relay
        .join(&request(&bound.code, &me.member, &actor()))
        .await?
        .map_err(|e| format!("{e:?}"))?;
    assert_eq!(
        (second.member.as_str(), second.role.as_str()),
        (me.member.as_str(), "organiser")
    );
    assert_ne!(second.device, first.joined.device);
    let members = relay.storage().members(&buurt)?;
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].active_devices, 2);
    Ok(())
}
