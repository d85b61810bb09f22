//! The store against real backends: a local folder, the in-memory store and an S3-compatible
//! server (`moto_server`) on loopback. Each scenario runs on every backend.

use pipe_spec::{FileEntry, Hash, Manifest};
use pipe_store::{ChangeKind, Filter, GetOptions, Progress, PutOptions, Quiet, Store, StoreError};
use pipe_tests::servers::Moto;
use pipe_tests::{random_bytes, write_file};
use std::path::Path;
use std::sync::{Arc, Mutex};

fn opts(message: &str) -> PutOptions {
    PutOptions { branch: "main".into(), message: message.into(), stat_cache: None, jobs: 4 }
}

fn quiet() -> Arc<dyn Progress> {
    Arc::new(Quiet)
}

/// Every file under `dir`, by relative path, with its bytes.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = walk(dir)
        .into_iter()
        .map(|p| {
            (p.strip_prefix(dir).expect("under dir").to_string_lossy().into_owned(), std::fs::read(&p).expect("read"))
        })
        .collect();
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("readable") {
        let p = e.expect("entry").path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

async fn commits_snapshots_diffs_and_tags(store: Store) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src");
    let mut big = random_bytes(6 * 1024 * 1024, 1);
    write_file(&src, "a/one.txt", b"one");
    write_file(&src, "empty", b"");
    write_file(&src, "big.bin", &big);

    store.init("ds").await.expect("init");
    assert!(matches!(store.init("ds").await, Err(StoreError::RepoExists { .. })));
    let v1 = store.put_dir("ds", &src, &opts("v1"), quiet()).await.expect("first put");
    assert!(v1.changed && v1.parent.is_none());
    assert_eq!((v1.files, v1.bytes), (3, 6 * 1024 * 1024 + 3));
    let m1 = store.manifest("ds", v1.commit).await.expect("manifest");
    assert_eq!(m1.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), ["a/one.txt", "big.bin", "empty"]);
    assert!(m1.files[1].chunks.len() > 2, "6 MiB is cut into chunks");
    assert_eq!(m1.files[0].hash, Hash::of(b"one"), "a one-chunk file's hash is its blake3");

    let out = tmp.path().join("out");
    let got = store.get_dir(&m1, &out, &Filter::all(), &GetOptions::fresh(4), quiet()).await.expect("get");
    assert_eq!(got.files, 3);
    assert_eq!(tree(&out), tree(&src));

    let same = store.put_dir("ds", &src, &opts("again"), quiet()).await.expect("put unchanged");
    assert!(!same.changed && same.commit == v1.commit && same.objects_written == 0);

    big[3 * 1024 * 1024] ^= 0xff;
    write_file(&src, "big.bin", &big);
    write_file(&src, "new.txt", b"new");
    let v2 = store.put_dir("ds", &src, &opts("v2"), quiet()).await.expect("second put");
    assert_eq!(v2.parent, Some(v1.commit));
    assert!(v2.objects_written <= 4, "{} objects written for one changed byte and one new file", v2.objects_written);
    assert!(v2.bytes_written < 3 * 1024 * 1024, "{} bytes written for one changed byte", v2.bytes_written);

    let m2 = store.manifest("ds", v2.commit).await.expect("manifest v2");
    let changes = pipe_store::diff(&m1, &m2);
    let summary: Vec<(ChangeKind, &str)> = changes.iter().map(|c| (c.kind, c.path.as_str())).collect();
    assert_eq!(summary, [(ChangeKind::Changed, "big.bin"), (ChangeKind::Added, "new.txt")]);

    let log = store.log("ds", v2.commit, 10).await.expect("log");
    assert_eq!(log.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [v2.commit, v1.commit]);
    assert_eq!(log[0].1.message, "v2");

    store.tag("ds", "v1", v1.commit).await.expect("tag");
    assert_eq!(store.resolve("ds", "v1").await.expect("tag resolves"), v1.commit);
    assert_eq!(store.resolve("ds", "main").await.expect("branch resolves"), v2.commit);
    assert_eq!(store.resolve("ds", &v2.commit.0.to_hex()[..8]).await.expect("prefix resolves"), v2.commit);
    assert!(matches!(store.tag("ds", "v1", v2.commit).await, Err(StoreError::TagExists { .. })));
    match store.resolve("ds", "nope").await {
        Err(StoreError::UnknownRef { known, .. }) => assert_eq!(known, ["main", "v1"]),
        other => panic!("expected an unknown ref, got {other:?}"),
    }
    assert!(matches!(store.resolve("other", "main").await, Err(StoreError::NoRepo { .. })));

    let part = tmp.path().join("part");
    store
        .get_dir(&m2, &part, &Filter::new(&["a".into()]).expect("glob"), &GetOptions::fresh(4), quiet())
        .await
        .expect("filtered get");
    assert_eq!(tree(&part), [("a/one.txt".to_string(), b"one".to_vec())]);
    assert_eq!(store.repos().await.expect("repos"), ["ds"]);
}

/// Plays a second writer: moves the branch in the middle of a put, after its objects are written
/// and before its ref moves.
struct Interloper {
    store: Store,
    dir: std::path::PathBuf,
    won: Mutex<Option<pipe_spec::CommitId>>,
}

impl Progress for Interloper {
    fn finish(&self) {
        let handle = tokio::runtime::Handle::current();
        let outcome = tokio::task::block_in_place(|| {
            handle.block_on(self.store.put_dir("ds", &self.dir, &opts("theirs"), quiet()))
        });
        *self.won.lock().expect("lock") = Some(outcome.expect("the interloper's put").commit);
    }
}

async fn a_lost_race_is_a_conflict_and_loses_nothing(store: Store) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (ours, theirs) = (tmp.path().join("ours"), tmp.path().join("theirs"));
    write_file(&ours, "x", b"ours");
    write_file(&theirs, "x", b"theirs");
    store.init("ds").await.expect("init");
    let base = store.put_dir("ds", &theirs, &opts("base"), quiet()).await.expect("base").commit;
    write_file(&theirs, "y", b"more");

    let interloper = Arc::new(Interloper { store: store.clone(), dir: theirs.clone(), won: Mutex::new(None) });
    let result = store.put_dir("ds", &ours, &opts("ours"), interloper.clone()).await;
    let winner = interloper.won.lock().expect("lock").expect("the interloper ran");
    let StoreError::Conflict { ours: lost, theirs: reported, .. } = result.expect_err("ours must lose") else {
        panic!("expected a conflict")
    };
    assert_eq!(reported, winner);
    assert_eq!(store.head("ds", "main").await.expect("head"), Some(winner));
    let kept = store.manifest("ds", lost).await.expect("the losing commit is stored, not lost");
    assert_eq!(kept.parent, Some(base));

    let retry = store.put_dir("ds", &ours, &opts("ours again"), quiet()).await.expect("retry succeeds");
    assert_eq!(retry.parent, Some(winner));
    assert_eq!(store.head("ds", "main").await.expect("head"), Some(retry.commit));
}

async fn damage_is_detected_on_read_with_the_path(store: Store) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src");
    write_file(&src, "data/labels.csv", b"id,label\n1,cat\n");
    store.init("ds").await.expect("init");
    let v = store.put_dir("ds", &src, &opts("v"), quiet()).await.expect("put");
    let m = store.manifest("ds", v.commit).await.expect("manifest");
    let key = object_store::path::Path::from(Store::object_key(&m.files[0].hash));

    store.backend().put(&key, bytes::Bytes::from_static(b"id,label\n1,dog\n")).await.expect("damage");
    let err = store
        .get_dir(&m, &tmp.path().join("o1"), &Filter::all(), &GetOptions::fresh(1), quiet())
        .await
        .expect_err("corrupt");
    assert!(matches!(&err, StoreError::Corrupt { path, .. } if path == "data/labels.csv"), "{err}");
    assert!(!tmp.path().join("o1/data/labels.csv").exists(), "no half-written file");

    store.backend().delete(&key).await.expect("delete");
    let err = store
        .get_dir(&m, &tmp.path().join("o2"), &Filter::all(), &GetOptions::fresh(1), quiet())
        .await
        .expect_err("missing");
    assert!(matches!(&err, StoreError::MissingObject { path, .. } if path == "data/labels.csv"), "{err}");
    assert!(err.help().contains("put"), "{}", err.help());

    let commit_key = object_store::path::Path::from(format!("commits/ds/{}", v.commit));
    let mut bytes = store.backend().get(&commit_key).await.expect("read").expect("exists").to_vec();
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    store.backend().put(&commit_key, bytes.into()).await.expect("damage manifest");
    assert!(matches!(store.manifest("ds", v.commit).await, Err(StoreError::BadCommit { .. })));
}

/// Small files go into packs (`pack`): one pack and index for 300 small files, none under its own
/// key; a second process finds them through the index (its get reads them back, its put into
/// another repo writes nothing), a damaged byte in the pack is caught by the hash check, named by
/// path, reported by fsck and rewritten by the next put; an index that is garbage locates nothing
/// and fails reads with "missing", never a panic.
async fn small_files_are_packed_shared_and_checked(open: &dyn Fn() -> Store) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src");
    let mut rng = fastrand::Rng::with_seed(11);
    let mut small = Vec::new();
    for i in 0..300 {
        // Every tenth file repeats the one before it: stored once.
        let bytes = if i % 10 == 9 {
            small.last().cloned().expect("one before")
        } else {
            random_bytes(rng.usize(100..4000), i)
        };
        write_file(&src, &format!("s/{i:03}.bin"), &bytes);
        small.push(bytes);
    }
    write_file(&src, "big.bin", &random_bytes(600 * 1024, 7));
    let store = open();
    store.init("ds").await.expect("init");
    let put = store.put_dir("ds", &src, &opts("v"), quiet()).await.expect("put");
    let (packs, indexes) = (keys(&store, "packs").await, keys(&store, "packindex").await);
    assert_eq!((packs.len(), indexes.len()), (1, 1), "{packs:?} {indexes:?}");
    let m = store.manifest("ds", put.commit).await.expect("manifest");
    let big_objects = m.files.iter().find(|f| f.path == "big.bin").expect("big").objects().len();
    assert_eq!(put.objects_written as usize, 270 + big_objects, "30 repeats stored once");
    assert_eq!(keys(&store, "objects").await.len(), big_objects, "only the big file's chunks are loose");

    let other = open();
    let out = tmp.path().join("out");
    other.get_dir(&m, &out, &Filter::all(), &GetOptions::fresh(4), quiet()).await.expect("get");
    assert_eq!(tree(&out), tree(&src));
    other.init("copy").await.expect("init");
    let copy = other.put_dir("copy", &src, &opts("copy"), quiet()).await.expect("put");
    assert_eq!(copy.objects_written, 0, "found in the other process's pack");

    // One byte of file 042 damaged inside the pack.
    let pack_key = object_store::path::Path::from(packs[0].clone());
    let mut bytes = store.backend().get(&pack_key).await.expect("read").expect("pack").to_vec();
    let at = bytes.windows(small[42].len()).position(|w| w == small[42]).expect("packed") + 5;
    bytes[at] ^= 1;
    store.backend().put(&pack_key, bytes.into()).await.expect("damage");
    let err = open()
        .get_dir(&m, &tmp.path().join("o2"), &Filter::all(), &GetOptions::fresh(4), quiet())
        .await
        .expect_err("corrupt");
    assert!(matches!(&err, StoreError::Corrupt { path, .. } if path == "s/042.bin"), "{err}");
    let report = open().fsck(&[], 4).await.expect("fsck");
    assert_eq!(report.damaged.len(), 1, "{report:?}");
    let repair = open().put_dir("ds", &src, &opts("again"), quiet()).await.expect("put");
    assert_eq!((repair.changed, repair.objects_written), (false, 1), "the damaged object is written again");
    let out3 = tmp.path().join("o3");
    open().get_dir(&m, &out3, &Filter::all(), &GetOptions::fresh(4), quiet()).await.expect("repaired");
    assert_eq!(tree(&out3), tree(&src));
    let report = open().fsck(&[], 4).await.expect("fsck");
    assert!(report.damaged.is_empty(), "the put cleared the record: {report:?}");

    // An index that is garbage: its objects are missing (the repaired one is loose and still read).
    let index_key = object_store::path::Path::from(indexes[0].clone());
    store.backend().put(&index_key, bytes::Bytes::from_static(b"pipe-pack-index-1\n\xff")).await.expect("garble");
    let err = open()
        .get_dir(&m, &tmp.path().join("o4"), &Filter::all(), &GetOptions::fresh(1), quiet())
        .await
        .expect_err("missing");
    assert!(matches!(&err, StoreError::MissingObject { path, .. } if path.starts_with("s/")), "{err}");
    let report = open().fsck(&["ds".into()], 4).await.expect("fsck");
    assert_eq!(report.damaged.len(), 269, "every small object but the repaired one");
}

async fn keys(store: &Store, prefix: &str) -> Vec<String> {
    let listed = store.backend().list(&object_store::path::Path::from(prefix)).await.expect("list");
    listed.iter().map(ToString::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let open = |name: &str| Store::open(dir.path().join(name).to_str().expect("utf-8"), true).expect("open");
    commits_snapshots_diffs_and_tags(open("a")).await;
    a_lost_race_is_a_conflict_and_loses_nothing(open("b")).await;
    damage_is_detected_on_read_with_the_path(open("c")).await;
    small_files_are_packed_shared_and_checked(&|| open("d")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory() {
    let open = |name: &str| Store::open(&format!("memory://{name}"), true).expect("open");
    commits_snapshots_diffs_and_tags(open("a")).await;
    a_lost_race_is_a_conflict_and_loses_nothing(open("b")).await;
    damage_is_detected_on_read_with_the_path(open("c")).await;
    small_files_are_packed_shared_and_checked(&|| open("d")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_compatible_server() {
    let moto = Moto::start("pipe-data");
    let open = |prefix: &str| Store::open_with(&moto.url(prefix), true, &moto.options()).expect("open");
    commits_snapshots_diffs_and_tags(open("a")).await;
    a_lost_race_is_a_conflict_and_loses_nothing(open("b")).await;
    damage_is_detected_on_read_with_the_path(open("c")).await;
    small_files_are_packed_shared_and_checked(&|| open("d")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stat_cache_reads_only_changed_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src");
    for i in 0..50 {
        write_file(&src, &format!("f{i:02}"), format!("file {i}").as_bytes());
    }
    let past = |secs| std::time::SystemTime::now() - std::time::Duration::from_secs(secs);
    let backdate = |path: &Path, secs| {
        std::fs::File::options().write(true).open(path).expect("open").set_modified(past(secs)).expect("set mtime")
    };
    for p in walk(&src) {
        backdate(&p, 3600);
    }
    // Only files whose ctime is older than the racy window (2 s) are recorded; a ctime cannot be
    // set back, so wait it out.
    std::thread::sleep(std::time::Duration::from_millis(2200));
    let store = Store::open(tmp.path().join("store").to_str().expect("utf-8"), true).expect("open");
    store.init("ds").await.expect("init");
    let cached = PutOptions { stat_cache: Some(tmp.path().join("state/statcache.bin")), ..opts("v") };
    let first = store.put_dir("ds", &src, &cached, quiet()).await.expect("put");
    assert_eq!(first.files_read, 50);
    let again = store.put_dir("ds", &src, &cached, quiet()).await.expect("put again");
    assert_eq!((again.files_read, again.changed), (0, false));

    write_file(&src, "f07", b"changed, same mtime is impossible here");
    backdate(&src.join("f07"), 1800);
    let third = store.put_dir("ds", &src, &cached, quiet()).await.expect("put after a change");
    assert_eq!((third.files_read, third.objects_written, third.changed), (1, 1, true));

    write_file(&src, "f08", b"just written");
    let racy = store.put_dir("ds", &src, &cached, quiet()).await.expect("put a fresh file");
    let after = store.put_dir("ds", &src, &cached, quiet()).await.expect("put again");
    // f07's ctime (set by its rewrite a moment ago) is within the racy window too.
    assert_eq!((racy.files_read, after.files_read), (2, 2), "files changed within the racy window are read again");
}

/// Regression: the stat cache trusted (inode, mtime, size), so a file replaced by one of the same
/// size and mtime kept its old content in the next snapshot. Each way a user's tools do that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stat_cache_sees_files_replaced_with_equal_size_and_mtime() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src");
    let names = ["in_place", "renamed_over", "recreated", "copied_p", "untouched"];
    for n in names {
        write_file(&src, n, format!("{n:<12} version 1").as_bytes());
    }
    let stamp = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let set_mtime =
        |p: &Path| std::fs::File::options().write(true).open(p).expect("open").set_modified(stamp).expect("mtime");
    for n in names {
        set_mtime(&src.join(n));
    }
    std::thread::sleep(std::time::Duration::from_millis(2200));
    let store = Store::open(tmp.path().join("store").to_str().expect("utf-8"), true).expect("open");
    store.init("ds").await.expect("init");
    let cached = PutOptions { stat_cache: Some(tmp.path().join("state/statcache.bin")), ..opts("v") };
    store.put_dir("ds", &src, &cached, quiet()).await.expect("put");
    assert_eq!(store.put_dir("ds", &src, &cached, quiet()).await.expect("put").files_read, 0, "all recorded");
    let before: Vec<u64> = names.iter().map(|n| std::fs::metadata(src.join(n)).expect("stat").ino()).collect();

    let v2 = |n: &str| format!("{n:<12} version 2").into_bytes();
    // Rewritten in place, mtime put back (`touch -d`): same inode, size and mtime.
    std::fs::write(src.join("in_place"), v2("in_place")).expect("write");
    set_mtime(&src.join("in_place"));
    // A new file renamed over the old one with the old mtime (`tar x`, `rsync -t`).
    let staged = tmp.path().join("staged");
    std::fs::write(&staged, v2("renamed_over")).expect("write");
    set_mtime(&staged);
    std::fs::rename(&staged, src.join("renamed_over")).expect("rename");
    // Deleted and created again: ext4 hands the freed inode to the next file created.
    std::fs::remove_file(src.join("recreated")).expect("rm");
    std::fs::write(src.join("recreated"), v2("recreated")).expect("write");
    set_mtime(&src.join("recreated"));
    // `cp -p` over it: the content and mtime of another file of the same size.
    std::fs::write(&staged, v2("copied_p")).expect("write");
    set_mtime(&staged);
    let copied = std::process::Command::new("cp").arg("-p").arg(&staged).arg(src.join("copied_p")).status();
    assert!(copied.expect("cp runs").success());

    let put = store.put_dir("ds", &src, &cached, quiet()).await.expect("put after the changes");
    let after: Vec<u64> = names.iter().map(|n| std::fs::metadata(src.join(n)).expect("stat").ino()).collect();
    eprintln!("inodes before {before:?}, after {after:?}");
    let manifest = store.manifest("ds", put.commit).await.expect("manifest");
    for n in &names[..4] {
        let entry = manifest.files.iter().find(|f| f.path == *n).expect("stored");
        assert_eq!(entry.hash, Hash::of(&v2(n)), "`{n}` kept its old content");
    }
    assert_eq!(put.files_read, 4, "exactly the four replaced files are read again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_cannot_escape_on_put_or_get() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = Store::open(tmp.path().join("store").to_str().expect("utf-8"), true).expect("open");
    store.init("ds").await.expect("init");

    let linked = tmp.path().join("linked");
    write_file(&linked, "ok", b"ok");
    std::os::unix::fs::symlink("/etc/passwd", linked.join("passwd")).expect("symlink");
    let err = store.put_dir("ds", &linked, &opts("v"), quiet()).await.expect_err("symlinks are refused");
    assert!(matches!(&err, StoreError::BadPath { path, .. } if path == "passwd"), "{err}");

    let slashed = tmp.path().join("slashed");
    write_file(&slashed, "a\\..\\b", b"x");
    assert!(matches!(store.put_dir("ds", &slashed, &opts("v"), quiet()).await, Err(StoreError::BadPath { .. })));
    assert_eq!(store.head("ds", "main").await.expect("head"), None, "a refused put commits nothing");

    let dest = tmp.path().join("dest");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(&outside).expect("mkdir");
    std::fs::create_dir_all(&dest).expect("mkdir");
    std::os::unix::fs::symlink(&outside, dest.join("link")).expect("symlink");
    // A commit from a store someone else wrote must not write into a store or its state.
    for bad in ["../evil", "/tmp/evil", "a\0b", "link/evil", "a/./b", ".pipe/refs/ds/main", "d/.pipe/state/x"] {
        let entry = FileEntry::new(bad.into(), vec![pipe_spec::ChunkRef { hash: Hash::of(b"evil"), size: 4 }]);
        let m = Manifest {
            format: 1,
            repo: "ds".into(),
            parent: None,
            time: String::new(),
            message: String::new(),
            files: vec![entry],
        };
        let err = store.get_dir(&m, &dest, &Filter::all(), &GetOptions::fresh(1), quiet()).await.expect_err(bad);
        assert!(matches!(err, StoreError::BadPath { .. }), "{bad:?}: {err}");
    }
    assert!(walk(&outside).is_empty() && !tmp.path().join("evil").exists(), "nothing was written outside");
    assert!(!dest.join(".pipe").exists() && !dest.join("d").exists(), "nothing was written into a store folder");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_skips_the_store_beside_the_data_and_refuses_one_inside_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = Store::open(tmp.path().join("store").to_str().expect("utf-8"), true).expect("open");
    store.init("ds").await.expect("init");
    let data = tmp.path().join("data");
    write_file(&data, "a.csv", b"a");
    write_file(&data, ".pipe/refs/x", b"the store's own");
    let put = store.put_dir("ds", &data, &opts("v"), quiet()).await.expect("the store beside the data is skipped");
    let files: Vec<String> =
        store.manifest("ds", put.commit).await.expect("manifest").files.into_iter().map(|f| f.path).collect();
    assert_eq!(files, ["a.csv"]);
    // Deeper down, a `.pipe` folder is someone's files: refused with its path, never dropped unsaid.
    write_file(&data, "x/.pipe/real.csv", b"real");
    let err = store.put_dir("ds", &data, &opts("v2"), quiet()).await.expect_err("a store inside the data");
    assert!(matches!(&err, StoreError::BadPath { path, .. } if path == "x/.pipe"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_index_round_trips_files_with_and_without_chunks() {
    use pipe_spec::{ChunkRef, FileEntry, Hash};
    let store = Store::open("memory://index", true).expect("open");
    let one = FileEntry { path: "a.txt".into(), size: 3, hash: Hash::of(b"abc"), chunks: Vec::new() };
    let chunks = vec![ChunkRef { hash: Hash::of(b"x"), size: 1 }, ChunkRef { hash: Hash::of(b"y"), size: 1 }];
    let two = FileEntry::new("b/c.bin".into(), chunks);
    let entries = std::collections::HashMap::from([
        (Hash::of(b"k1"), vec![one.clone(), two.clone()]),
        (Hash::of(b"k2"), Vec::new()),
    ]);
    let index = pipe_store::StageIndex { entries, output: Some(pipe_spec::CommitId(Hash::of(b"commit"))) };
    let fingerprint = Hash::of(b"stage");
    store.stage_index_put(&fingerprint, &index).await.expect("put");
    assert_eq!(store.stage_index_get(&fingerprint).await.expect("get"), index);
    // Manifests (JSON) still leave out empty chunk lists: their bytes are commit ids.
    let json = serde_json::to_string(&one).expect("json");
    assert_eq!(json, format!(r#"{{"path":"a.txt","size":3,"hash":"{}"}}"#, one.hash.to_hex()));
    assert_eq!(serde_json::from_str::<FileEntry>(&json).expect("parse"), one);
    assert_eq!(serde_json::from_str::<FileEntry>(&serde_json::to_string(&two).expect("json")).expect("parse"), two);
}

/// Stray files in a branch's folder (an editor's backup, a copy, a hand-made `99`) are not moves:
/// `head` (which `get` reads) and `branches` (which `log` names) pick the same head.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stray_files_in_a_branch_folder_change_no_head() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("store");
    let store = Store::open(root.to_str().expect("utf-8"), true).expect("open");
    store.init("ds").await.expect("init");
    let data = tmp.path().join("data");
    write_file(&data, "a", b"1");
    let first = store.put_dir("ds", &data, &opts("v1"), quiet()).await.expect("put").commit;
    write_file(&data, "a", b"2");
    let second = store.put_dir("ds", &data, &opts("v2"), quiet()).await.expect("put").commit;
    let folder = walk(&root).into_iter().find(|p| p.to_string_lossy().contains("/heads/main/")).expect("a move");
    let folder = folder.parent().expect("the branch folder").to_owned();
    std::fs::write(folder.join("zzz"), b"not a ref").expect("stray");
    std::fs::write(folder.join("99"), std::fs::read(folder.join(format!("{:020}", 0))).expect("the first move"))
        .expect("stray copy");
    assert_ne!(first, second);
    assert_eq!(store.head("ds", "main").await.expect("head"), Some(second));
    assert_eq!(store.branches("ds").await.expect("branches").get("main"), Some(&second));
}

/// Regression: `pipe log` took the newest run to be the last id in sort order, true of local ids
/// (they start with their time) but not of a cluster's (a workflow's or TorchX app's name), so
/// `pipe log -n 1` after two TorchX runs showed the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_are_listed_in_the_order_their_records_were_written() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = Store::open(tmp.path().to_str().expect("utf-8"), true).expect("open");
    for id in ["preprocess-zz9", "preprocess-aa1", "20261207T000000000Z-abc"] {
        store.run_put(id, &serde_json::json!({"run_id": id})).await.expect("put");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(store.run_ids().await.expect("ids"), ["preprocess-zz9", "preprocess-aa1", "20261207T000000000Z-abc"]);
}
