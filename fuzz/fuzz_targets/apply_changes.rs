//! Untrusted change bytes into a store that holds one good entity: any outcome but a panic,
//! and the good entity stays readable.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use noaber_core::model::help::NewHelp;
use noaber_core::{EntityId, ManualClock, Store};

fuzz_target!(|data: &[u8]| {
    let Ok(store) = Store::open_in_memory(Arc::new(ManualClock::new(1_790_000_000_000))) else {
        return;
    };
    let Ok(good) = store.create_help(&NewHelp::ask("groceries", "Boodschappen")) else {
        return;
    };
    let Ok(id) = EntityId::new() else { return };
    // Split the input into up to four changes at 0xff bytes, as a batch would carry them.
    let batch: Vec<_> = data.split(|b| *b == 0xff).take(4).map(|c| (id.clone(), c.to_vec())).collect();
    let _ = store.apply_remote_changes(&batch);
    assert!(store.help(&good).is_ok());
});
