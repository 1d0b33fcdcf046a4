//! `POST /v1/join`: redeem an invite, enrol a device, get its token (shown once).

use std::net::{IpAddr, SocketAddr};

use automerge::ActorId;
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
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
/// The display name as the core's rule takes it ([`noaber_core::names::display_name`]):
/// trimmed, 1..=80 characters, no control, format (bidi, zero-width) or invisible character.
fn display_name(s: &str) -> Result<String, ApiError> {
    noaber_core::names::display_name(s).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// The optional `join_secret`: 64 lowercase hex digits (32 bytes).
fn join_secret(s: Option<&str>) -> Result<Option<[u8; 32]>, ApiError> {
    s.map(|s| {
        unhex(s)
            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            .ok_or_else(|| {
                ApiError::BadRequest(
                    "invalid `join_secret`: 64 lowercase hex digits (32 random bytes) expected"
                        .into(),
                )
            })
    })
    .transpose()
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

/// The address a join is rate-limited by: the peer's, unless the peer is a trusted proxy;
/// then the right-most `X-Forwarded-For` address that is not a trusted proxy (each proxy
/// appends the address it saw, so entries to the left of that one are the client's to forge).
/// A missing or malformed header falls back to the peer.
pub(crate) fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let mut seen = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else {
            return peer;
        };
        for part in text.split(',') {
            match part.trim().parse::<IpAddr>() {
                Ok(ip) => seen.push(ip),
                Err(_) => return peer,
            }
        }
    }
    seen.into_iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
}

/// `POST /v1/join`.
pub(crate) async fn join(
    State(relay): State<Relay>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<JoinRequest>,
) -> Result<Json<JoinResponse>, ApiError> {
    let client = client_ip(peer.ip(), &headers, &relay.inner.config.trusted_proxies);
    if !relay.inner.joins.allow(client, std::time::Instant::now()) {
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
    // One code is tried at most so fast, from however many addresses.
    if !relay
        .inner
        .invite_joins
        .take(invite_hash, std::time::Instant::now())
    {
        metrics::counter!(crate::metrics::JOINS, "outcome" => "rate_limited").increment(1);
        return Err(ApiError::RateLimited(
            "too many join attempts with this invite; wait a minute",
        ));
    }
    let member = MemberId::parse(&req.member).map_err(|_| {
        ApiError::BadRequest("invalid `member`: 32 lowercase hex digits expected".into())
    })?;
    let secret = join_secret(req.join_secret.as_deref())?;
    let token = match &secret {
        Some(s) => Token::derived(s),
        None => Token::new()?,
    };
    let ticket = JoinTicket {
        invite_hash,
        member,
        display_name: display_name(&req.display_name)?,
        device: DeviceId::new()?,
        token_hash: token.hash(),
        actors: actors(&req.actors)?,
        retryable: secret.is_some(),
        now: relay.now_ms(),
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
                JoinRefusal::SecretTaken => ("join_secret_taken", ApiError::JoinSecretTaken),
            };
            metrics::counter!(crate::metrics::JOINS, "outcome" => label).increment(1);
            return Err(err);
        }
    };
    let outcome = if joined.retry { "retried" } else { "joined" };
    metrics::counter!(crate::metrics::JOINS, "outcome" => outcome).increment(1);
    tracing::info!(
        buurt = %joined.buurt,
        device = %joined.device,
        role = joined.role.as_str(),
        retry = joined.retry,
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    /// Who a join is counted against, for each kind of peer and header.
    #[test]
    fn the_client_address_behind_proxies() {
        let proxy = ip("10.0.0.2");
        let inner = ip("10.0.0.3");
        let trusted = [proxy, inner];
        let client = ip("203.0.113.7");
        let cases: &[(IpAddr, &[&str], IpAddr)] = &[
            // No proxy trusted, or a peer that is not one: the header is anyone's to forge.
            (client, &["198.51.100.1"], client),
            // A trusted proxy: the address it appended.
            (proxy, &["203.0.113.7"], client),
            // A client prepending a forged address gains nothing: the right-most untrusted
            // entry is what the proxy saw.
            (proxy, &["198.51.100.1, 203.0.113.7"], client),
            // Two proxies in a row, and the header split over two lines.
            (proxy, &["203.0.113.7, 10.0.0.3"], client),
            (proxy, &["203.0.113.7", "10.0.0.3"], client),
            (proxy, &[" 2001:db8::1 "], ip("2001:db8::1")),
            // Missing, garbage or only proxies: the peer.
            (proxy, &[], proxy),
            (proxy, &["not-an-address"], proxy),
            (proxy, &["10.0.0.3"], proxy),
        ];
        for (peer, values, want) in cases {
            assert_eq!(
                client_ip(*peer, &headers(values), &trusted),
                *want,
                "{peer} {values:?}"
            );
        }
        assert_eq!(client_ip(proxy, &headers(&["203.0.113.7"]), &[]), proxy);
    }
}
