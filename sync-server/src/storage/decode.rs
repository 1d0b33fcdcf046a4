//! Turning stored values back into the relay's types, for every [`super::Storage`]
//! implementation: a value that does not decode is [`StorageError::Corrupt`] (a bug or a
//! damaged database), a number out of range for the backend is [`StorageError::Backend`].

use noaber_core::{MemberId, Role};

use super::{StorageError, StorageResult};
use crate::ids::{BuurtId, DeviceId};

pub(super) fn to_i64(v: u64, what: &str) -> StorageResult<i64> {
    i64::try_from(v).map_err(|_| StorageError::Backend(format!("{what} {v} is out of range")))
}

pub(super) fn to_u64(v: i64, what: &str) -> StorageResult<u64> {
    u64::try_from(v).map_err(|_| StorageError::Corrupt(format!("{what} {v} is negative")))
}

pub(super) fn role(s: &str) -> StorageResult<Role> {
    Role::parse(s).map_err(|_| StorageError::Corrupt(format!("unknown role `{s}`")))
}

pub(super) fn member(s: String) -> StorageResult<MemberId> {
    MemberId::parse(&s).map_err(|_| StorageError::Corrupt(format!("member id `{s}`")))
}

pub(super) fn buurt_id(s: String) -> StorageResult<BuurtId> {
    BuurtId::parse(&s).map_err(|_| StorageError::Corrupt(format!("buurt id `{s}`")))
}

pub(super) fn device_id(s: String) -> StorageResult<DeviceId> {
    DeviceId::parse(&s).map_err(|_| StorageError::Corrupt(format!("device id `{s}`")))
}

pub(super) fn array<const N: usize>(v: &[u8], what: &str) -> StorageResult<[u8; N]> {
    <[u8; N]>::try_from(v)
        .map_err(|_| StorageError::Corrupt(format!("{what} is {} bytes, {N} expected", v.len())))
}
