//! Versioned wire types shared by the compiler and the runtime.
//!
//! Takes nothing from the outside world: these are plain data with serde, their canonical
//! encodings and the rules that make them safe to trust (hash formats, path rules). Gives
//! [`Hash`], [`Manifest`] and its [`FileEntry`]s, [`CommitId`], [`RefRecord`] and [`RepoRecord`].
//! Does no IO and knows nothing of object stores; `pipe-store` reads and writes these.
//!
//! Every record carries a `format` number. A reader refuses a record whose format it does not
//! know instead of guessing, so old binaries never misread new stores.

mod hash;
mod manifest;
mod param;
mod path;
mod refs;
mod stage;
mod trigger;

pub use hash::{Hash, HashParseError};
pub use manifest::{ChunkRef, CommitId, FileEntry, MANIFEST_FORMAT, Manifest, ManifestError, file_hash};
pub use param::{ParamType, parse_param};
pub use path::{PathError, STORE_FOLDER, check_path};
pub use refs::{REF_FORMAT, RefKind, RefRecord, RepoRecord, ResolvedInput, check_name};
pub use stage::{
    CACHE_FORMAT, CacheEntry, CodeFile, DatumSpec, EnvValue, EnvVar, GridAxis, GroupPart, InputSource, JoinPart,
    PointParam, RUNTIME_RULES_VERSION, STAGE_SPEC_FORMAT, StageInput, StageKind, StageSpec,
};
pub use trigger::{TRIGGER_SPEC_FORMAT, TriggerInput, TriggerSpec};
