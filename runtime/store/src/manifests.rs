//! Reading and writing commits' manifests. A manifest read back is checked against its id.

use crate::backend::Backend;
use crate::error::{Result, StoreError};
use crate::layout;
use bytes::Bytes;
use pipe_spec::{CommitId, Manifest};

/// Writes `manifest` under its id and gives the id.
pub(crate) async fn store(b: &Backend, manifest: &Manifest) -> Result<CommitId> {
    let bytes = manifest.to_bytes();
    let id = Manifest::id_of(&bytes);
    b.put(&layout::commit(&manifest.repo, &id), Bytes::from(bytes)).await?;
    Ok(id)
}

/// Reads commit `id` of `repo`, checking its hash and rules.
pub(crate) async fn load(b: &Backend, repo: &str, id: CommitId) -> Result<Manifest> {
    let bad = |detail: String| StoreError::BadCommit { repo: repo.into(), commit: id, detail };
    let bytes = b.get(&layout::commit(repo, &id)).await?.ok_or_else(|| bad("its manifest is missing".into()))?;
    Manifest::from_bytes(&bytes, id).map_err(|e| bad(e.to_string()))
}
