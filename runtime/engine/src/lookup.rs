//! Which datums of a stage are cached, asked for many keys at once (a plan, a listing).
//!
//! Takes a store, a stage fingerprint and datum keys; gives the set of those with a usable cache
//! entry. The stage index answers for the datums of the stage's last run in one read; a key it
//! does not name is looked up on its own, many at a time, and only when the cache holds any entry
//! of this fingerprint at all (a stage never run costs one listing, not a read per datum). A
//! datum whose outputs are recorded as damaged is not cached, as [`Store::cache_get`] says.

use futures::StreamExt;
use pipe_spec::Hash;
use pipe_store::{Store, StoreError};
use std::collections::HashSet;

/// Cache lookups in flight at once: enough to hide an object store's latency, few enough for a
/// folder's blocking reads.
const LOOKUPS_AT_ONCE: usize = 64;

/// The keys among `keys` whose datum is cached under `fingerprint`.
pub async fn cached(store: &Store, fingerprint: &Hash, keys: &[Hash]) -> Result<HashSet<Hash>, StoreError> {
    let index = store.stage_index_get(fingerprint).await?;
    let mut found: HashSet<Hash> = keys.iter().filter(|k| index.entries.contains_key(k)).copied().collect();
    drop(index);
    let rest: Vec<Hash> = keys.iter().filter(|k| !found.contains(k)).copied().collect();
    if rest.is_empty() || !store.cache_has_any(fingerprint).await? {
        return Ok(found);
    }
    let mut lookups = futures::stream::iter(rest)
        .map(|key| async move { store.cache_get(fingerprint, &key).await.map(|entry| entry.map(|_| key)) })
        .buffer_unordered(LOOKUPS_AT_ONCE);
    while let Some(hit) = lookups.next().await {
        found.extend(hit?);
    }
    Ok(found)
}
