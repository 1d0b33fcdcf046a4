//! `POST /v1/join`: redeem an invite, enrol a device, get its token (shown once).

use std::net::SocketAddr;

use automerge::ActorId;
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use noaber_core::MemberId;
use noaber_core::sync::wire::{JoinRequest, JoinResponse, PROTOCOL_VERSION};

use super::error::ApiError;
use super::extract::JsonBody;
use crate::ids::{DeviceId, Token, unhex};
use crate::invite;
use crate::relay::Relay;
use crate::storage::{JoinRefusal, JoinTicket};

/// Most actor ids one device registers.
pub const MAX_ACTORS: usize = 8;
/// Longest actor id, in bytes.
pub const MAX_ACTOR_BYTES: usize = 32;
/// Longest display name, in characters.
pub const MAX_DISPLAY_NAME: usize = 80;

fn display_name(s: &str) -> Result<String, ApiError> {
    let name = s.trim();
    let n = name.chars().count();
    if n == 0 || n > MAX_DISPLAY_NAME {
        return Err(ApiError::BadRequest(format!(
            "invalid `display_name`: must be 1..={MAX_DISPLAY_NAME} characters, is {n}"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(
            "invalid `display_name`: contains control characters".into(),
        ));
    }
    Ok(name.to_owned())
}

fn actors(list: &[String]) -> Result<Vec<ActorId>, ApiError> {
    if list.is_empty() || list.len() > MAX_ACTORS {
        return Err(ApiError::BadRequest(format!(
            "invalid `actors`: 1..={MAX_ACTORS} actor ids expected, got {}",
            list.len()
        )));
    }
    let mut out: Vec<ActorId> = Vec::with_capacity(list.len());
    for (i, a) in list.iter().enumerate() {
        let bytes = unhex(a)
            .filter(|b| !b.is_empty() && b.len() <= MAX_ACTOR_BYTES)
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "invalid `actors[{i}]`: 1..={MAX_ACTOR_BYTES} bytes of lowercase hex expected"
                ))
            })?;
        let actor = ActorId::from(bytes);
        if out.contains(&actor) {
            return Err(ApiError::BadRequest(format!(
                "invalid `actors[{i}]`: listed twice"
            )));
        }
        out.push(actor);
    }
    Ok(out)
}

/// `POST /v1/join`.
pub(crate) async fn join(
    State(relay): State<Relay>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    JsonBody(req): JsonBody<JoinRequest>,
) -> Result<Json<JoinResponse>, ApiError> {
    if !relay
        .inner
        .joins
        .allow(peer.ip(), std::time::Instant::now())
    {
        metrics::counter!(crate::metrics::JOINS, "outcome" => "rate_limited").increment(1);
        return Err(ApiError::RateLimited(
            "too many join attempts; wait a minute",
        ));
    }
    if req.v != PROTOCOL_VERSION {
        return Err(ApiError::UnsupportedVersion(req.v));
    }
    let invite_hash = invite::hash(&req.invite).map_err(|_| {
        ApiError::InviteInvalid(
            StatusCode::BAD_REQUEST,
            "not an invite code (12 letters and digits, in groups of four)",
        )
    })?;
    let member = MemberId::parse(&req.member).map_err(|_| {
        ApiError::BadRequest("invalid `member`: 32 lowercase hex digits expected".into())
    })?;
    let token = Token::new()?;
    let ticket = JoinTicket {
        invite_hash,
        member,
        display_name: display_name(&req.display_name)?,
        device: DeviceId::new()?,
        token_hash: token.hash(),
        actors: actors(&req.actors)?,
        now: jiff::Timestamp::now().as_millisecond(),
    };
    let outcome = relay
        .blocking(move |r| Ok(r.inner.storage.join(&ticket)?))
        .await?;
    let joined = match outcome {
        Ok(j) => j,
        Err(refusal) => {
            let (label, err) = match refusal {
                JoinRefusal::UnknownInvite => (
                    "unknown_invite",
                    ApiError::InviteInvalid(StatusCode::FORBIDDEN, "no invite has this code"),
                ),
                JoinRefusal::Expired => (
                    "expired",
                    ApiError::InviteInvalid(
                        StatusCode::FORBIDDEN,
                        "this invite has expired; ask for a new one",
                    ),
                ),
                JoinRefusal::UsedUp => (
                    "used_up",
                    ApiError::InviteInvalid(
                        StatusCode::FORBIDDEN,
                        "this invite has been used as often as it allows; ask for a new one",
                    ),
                ),
                JoinRefusal::MemberTaken => ("member_taken", ApiError::MemberTaken),
                JoinRefusal::ActorTaken => ("actor_taken", ApiError::ActorTaken),
            };
            metrics::counter!(crate::metrics::JOINS, "outcome" => label).increment(1);
            return Err(err);
        }
    };
    metrics::counter!(crate::metrics::JOINS, "outcome" => "joined").increment(1);
    tracing::info!(
        buurt = %joined.buurt,
        device = %joined.device,
        role = joined.role.as_str(),
        "device joined"
    );
    Ok(Json(JoinResponse {
        v: PROTOCOL_VERSION,
        buurt: joined.buurt.to_string(),
        buurt_name: joined.buurt_name,
        member: joined.member.to_string(),
        role: joined.role.as_str().to_owned(),
        device: joined.device.to_string(),
        token: token.reveal(),
    }))
}
