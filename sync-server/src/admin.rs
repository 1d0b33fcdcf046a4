//! Operator commands on a relay's data (`noaber-relay admin …`), as library functions that
//! print nothing: the binary turns their results into JSON, tests call them directly.
//!
//! They work on the storage directly, so they run while the server runs (SQLite serialises
//! the writes) or while it is stopped. Invite codes are returned once and stored only hashed.

use noaber_core::{MemberId, Role};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::ids::{BuurtId, DeviceId};
use crate::invite;
use crate::storage::{DeviceRow, MemberRow, NewInvite, Storage};

/// Longest buurt name, in characters.
pub const MAX_BUURT_NAME: usize = 80;
/// Most joins one invite may admit.
pub const MAX_INVITE_USES: u32 = 10_000;
/// How long an invite lives unless told otherwise.
pub const DEFAULT_EXPIRY: &str = "7d";

/// A new buurt and the invite for its first organiser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreatedBuurt {
    /// The new buurt's id.
    pub buurt_id: BuurtId,
    /// A one-use organiser invite, valid [`DEFAULT_EXPIRY`].
    pub organiser_invite: String,
    /// When that invite expires (RFC 3339).
    pub organiser_invite_expires_at: String,
}

/// A new invite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreatedInvite {
    /// The code to hand out (shown once).
    pub code: String,
    /// The buurt it admits to.
    pub buurt: BuurtId,
    /// The role it gives.
    pub role: Role,
    /// The member it is bound to (a further device of theirs), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<MemberId>,
    /// When it expires (RFC 3339).
    pub expires_at: String,
    /// How many joins it admits.
    pub uses: u32,
}

/// What an invite should allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteOptions {
    /// The role for a new member; ignored (the member's own role applies) when `member` is set.
    pub role: Role,
    /// The expiry, as `--expires` takes it: `30m`, `12h`, `7d` or an RFC 3339 time.
    pub expires: String,
    /// How many joins it admits (`1..=10000`).
    pub uses: u32,
    /// Bind the invite to an existing member: it enrols a further device of theirs.
    pub member: Option<MemberId>,
}

fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| t.to_string())
}

fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    let n = name.chars().count();
    if n == 0 || n > MAX_BUURT_NAME {
        return Err(Error::invalid(
            "name",
            format!("must be 1..={MAX_BUURT_NAME} characters, is {n}"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid("name", "contains control characters"));
    }
    Ok(name.to_owned())
}

/// Creates a buurt and a one-use organiser invite for it.
///
/// # Errors
///
/// [`Error::InvalidInput`] for an empty or over-long name; storage errors.
pub fn create_buurt(storage: &dyn Storage, name: &str, now: i64) -> Result<CreatedBuurt> {
    let name = check_name(name)?;
    let id = BuurtId::new()?;
    storage.create_buurt(&id, &name, now)?;
    let invite = create_invite(
        storage,
        &id,
        &InviteOptions {
            role: Role::Organiser,
            expires: DEFAULT_EXPIRY.into(),
            uses: 1,
            member: None,
        },
        now,
    )?;
    tracing::info!(buurt = %id, "buurt created");
    Ok(CreatedBuurt {
        buurt_id: id,
        organiser_invite: invite.code,
        organiser_invite_expires_at: invite.expires_at,
    })
}

/// Creates an invite to `buurt`.
///
/// # Errors
///
/// [`Error::InvalidInput`] for a bad expiry or use count; [`Error::NotFound`] for an unknown
/// buurt or (with `member`) an unknown member; storage errors.
pub fn create_invite(
    storage: &dyn Storage,
    buurt: &BuurtId,
    opts: &InviteOptions,
    now: i64,
) -> Result<CreatedInvite> {
    if !(1..=MAX_INVITE_USES).contains(&opts.uses) {
        return Err(Error::invalid(
            "uses",
            format!("{} is not in 1..={MAX_INVITE_USES}", opts.uses),
        ));
    }
    let expires_at = invite::parse_expiry(&opts.expires, now)?;
    if storage.buurt(buurt)?.is_none() {
        return Err(Error::not_found("buurt", buurt.as_str()));
    }
    let role = match &opts.member {
        None => opts.role,
        Some(m) => {
            storage
                .members(buurt)?
                .into_iter()
                .find(|row| &row.member == m)
                .ok_or_else(|| Error::not_found("member", m.as_str()))?
                .role
        }
    };
    let code = invite::new_code()?;
    storage.create_invite(&NewInvite {
        hash: invite::hash(&code)?,
        buurt: buurt.clone(),
        role,
        member: opts.member.clone(),
        created_at: now,
        expires_at,
        max_uses: opts.uses,
    })?;
    tracing::info!(buurt = %buurt, role = role.as_str(), uses = opts.uses, "invite created");
    Ok(CreatedInvite {
        code,
        buurt: buurt.clone(),
        role,
        member: opts.member.clone(),
        expires_at: rfc3339(expires_at),
        uses: opts.uses,
    })
}

/// The members of a buurt.
///
/// # Errors
///
/// [`Error::NotFound`] for an unknown buurt; storage errors.
pub fn members(storage: &dyn Storage, buurt: &BuurtId) -> Result<Vec<MemberRow>> {
    if storage.buurt(buurt)?.is_none() {
        return Err(Error::not_found("buurt", buurt.as_str()));
    }
    Ok(storage.members(buurt)?)
}

/// The devices of a buurt.
///
/// # Errors
///
/// [`Error::NotFound`] for an unknown buurt; storage errors.
pub fn devices(storage: &dyn Storage, buurt: &BuurtId) -> Result<Vec<DeviceRow>> {
    if storage.buurt(buurt)?.is_none() {
        return Err(Error::not_found("buurt", buurt.as_str()));
    }
    Ok(storage.devices(buurt)?)
}

/// Revokes a device: its token stops working at once (live connections close within a ping).
///
/// # Errors
///
/// [`Error::NotFound`] for an unknown device; storage errors.
pub fn revoke_device(storage: &dyn Storage, device: &DeviceId, now: i64) -> Result<()> {
    if storage.revoke_device(device, now)? {
        tracing::info!(device = %device, "device revoked");
        Ok(())
    } else {
        Err(Error::not_found("device", device.as_str()))
    }
}

/// Changes a member's role; it applies to the next change their devices push.
///
/// # Errors
///
/// [`Error::NotFound`] for an unknown buurt or member; storage errors.
pub fn set_role(
    storage: &dyn Storage,
    buurt: &BuurtId,
    member: &MemberId,
    role: Role,
) -> Result<()> {
    if storage.set_role(buurt, member, role)? {
        tracing::info!(buurt = %buurt, member = %member, role = role.as_str(), "role changed");
        Ok(())
    } else if storage.buurt(buurt)?.is_none() {
        Err(Error::not_found("buurt", buurt.as_str()))
    } else {
        Err(Error::not_found("member", member.as_str()))
    }
}
