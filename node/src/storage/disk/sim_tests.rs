//! Tests of the simulated disk itself: what a power loss keeps and drops, the
//! injected faults, and redb over it.
#![allow(clippy::unwrap_used)]

use super::faults::FaultPlan;
use super::sim::SimDisk;
use super::{redb_backend, Disk};
use redb::{ReadableDatabase, TableDefinition};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

fn disk() -> (Disk, std::sync::Arc<SimDisk>) {
    let sim = SimDisk::new(1 << 30);
    (Disk::Sim(sim.clone()), sim)
}

fn p(s: &str) -> &Path {
    Path::new(s)
}

#[test]
fn only_synced_data_under_synced_entries_survives_a_power_loss() {
    let (d, sim) = disk();
    d.create_dir_all(p("/a/b")).unwrap();
    d.sync_dir(p("/")).unwrap();
    d.sync_dir(p("/a")).unwrap();
    // Synced file, synced entry: survives.
    let f = d.create(p("/a/b/kept")).unwrap();
    (&f).write_all(b"kept bytes").unwrap();
    f.sync_all().unwrap();
    // Synced file, entry never synced: lost.
    let g = d.create(p("/a/b/orphan")).unwrap();
    (&g).write_all(b"orphan").unwrap();
    g.sync_all().unwrap();
    d.sync_dir(p("/a/b")).unwrap();
    // Written after the syncs: neither the new bytes nor the new entry stay.
    (&f).write_all(b" and more").unwrap();
    d.create(p("/a/b/late")).unwrap();
    d.remove_file(p("/a/b/orphan")).unwrap();
    assert_eq!(d.read(p("/a/b/kept")).unwrap(), b"kept bytes and more");
    assert!(!d.exists(p("/a/b/orphan")));

    let after = Disk::Sim(sim.durable_image(None));
    assert_eq!(after.read(p("/a/b/kept")).unwrap(), b"kept bytes");
    // The unlink was not synced: the entry (and its synced bytes) are back.
    assert_eq!(after.read(p("/a/b/orphan")).unwrap(), b"orphan");
    assert!(!after.exists(p("/a/b/late")));
}

#[test]
fn a_directory_never_synced_in_its_parent_takes_its_files_along() {
    let (d, sim) = disk();
    d.create_dir_all(p("/x/y")).unwrap();
    d.sync_dir(p("/x/y")).unwrap();
    d.write_new_synced(p("/x/y/f"), b"data", &Mutex::new(Vec::new()))
        .unwrap();
    d.sync_dir(p("/x/y")).unwrap();
    let after = Disk::Sim(sim.durable_image(None));
    assert!(!after.exists(p("/x")));
}

#[test]
fn rename_is_volatile_until_the_directory_is_synced() {
    let (d, sim) = disk();
    d.create_dir_all(p("/d")).unwrap();
    d.sync_dir(p("/")).unwrap();
    d.write(p("/d/tmp"), b"v1").unwrap();
    d.open_rw(p("/d/tmp")).unwrap().sync_all().unwrap();
    d.sync_dir(p("/d")).unwrap();
    d.rename(p("/d/tmp"), p("/d/final")).unwrap();
    let before_sync = Disk::Sim(sim.durable_image(None));
    assert!(before_sync.exists(p("/d/tmp")));
    assert!(!before_sync.exists(p("/d/final")));
    d.sync_dir(p("/d")).unwrap();
    let after_sync = Disk::Sim(sim.durable_image(None));
    assert!(!after_sync.exists(p("/d/tmp")));
    assert_eq!(after_sync.read(p("/d/final")).unwrap(), b"v1");
}

#[test]
fn a_failed_fsync_loses_its_data_even_if_a_later_one_succeeds() {
    let (d, sim) = disk();
    d.create_dir_all(p("/w")).unwrap();
    let f = d.create(p("/w/log")).unwrap();
    d.sync_dir(p("/w")).unwrap();
    d.sync_dir(p("/")).unwrap();
    (&f).write_all(b"first").unwrap();
    let next_sync = sim.counters().syncs;
    sim.set_plan(FaultPlan {
        fail_sync: Some((next_sync, libc::EIO)),
        ..FaultPlan::default()
    });
    let err = f.sync_data().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EIO));
    // The retry "succeeds", the bytes are still readable, but not durable.
    f.sync_data().unwrap();
    assert_eq!(d.read(p("/w/log")).unwrap(), b"first");
    let after = Disk::Sim(sim.durable_image(None));
    assert_eq!(after.read(p("/w/log")).unwrap(), b"");
    assert_eq!(sim.injected().len(), 1);
}

#[test]
fn failed_and_torn_writes() {
    let (d, sim) = disk();
    let f = d.create(p("/f")).unwrap();
    let w = sim.counters().writes;
    sim.set_plan(FaultPlan {
        fail_write: Some((w, libc::ENOSPC)),
        tear_write: Some((w + 1, 3)),
        ..FaultPlan::default()
    });
    let full = (&f).write_all(b"nothing").unwrap_err();
    assert_eq!(full.raw_os_error(), Some(libc::ENOSPC));
    assert_eq!(d.read(p("/f")).unwrap(), b"");
    let torn = (&f).write_all(b"abcdef").unwrap_err();
    assert_eq!(torn.raw_os_error(), Some(libc::EIO));
    assert_eq!(d.read(p("/f")).unwrap(), b"abc");
    assert_eq!(sim.injected().len(), 2);
}

#[test]
fn power_loss_fails_everything_after_it() {
    let (d, sim) = disk();
    let ops = sim.counters().ops;
    sim.set_plan(FaultPlan {
        power_loss_at: Some(ops + 2),
        ..FaultPlan::default()
    });
    d.create_dir_all(p("/a")).unwrap();
    d.create_dir_all(p("/b")).unwrap();
    assert!(d.create_dir_all(p("/c")).is_err());
    assert!(d.read_dir(p("/")).is_err());
    assert!(sim.is_dead());
    let after = Disk::Sim(sim.durable_image(None));
    // Nothing was synced: an empty disk, and a live one.
    assert!(after.read_dir(p("/")).unwrap().is_empty());
    after.create_dir_all(p("/c")).unwrap();
}

#[test]
fn a_seeded_image_keeps_some_unsynced_changes_and_replays() {
    let (d, sim) = disk();
    d.create_dir_all(p("/d")).unwrap();
    d.sync_dir(p("/")).unwrap();
    for i in 0..64 {
        d.write(&Path::new("/d").join(i.to_string()), b"x").unwrap();
    }
    let kept = |seed| {
        Disk::Sim(sim.durable_image(Some(seed)))
            .read_dir(p("/d"))
            .unwrap()
            .len()
    };
    let n = kept(7);
    assert!(n > 0 && n < 64, "{n} of 64 unsynced entries kept");
    assert_eq!(kept(7), n, "the same seed keeps the same entries");
}

#[test]
fn redb_over_the_simulated_disk_keeps_durable_commits_only() {
    const T: TableDefinition<u64, u64> = TableDefinition::new("t");
    let (d, sim) = disk();
    d.create_dir_all(p("/db")).unwrap();
    d.sync_dir(p("/")).unwrap();
    {
        let db = redb_backend::open(&d, p("/db/x.redb"), 1 << 20).unwrap();
        d.sync_dir(p("/db")).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(T).unwrap().insert(1, 10).unwrap();
        txn.commit().unwrap();
        let mut txn = db.begin_write().unwrap();
        txn.set_durability(redb::Durability::None).unwrap();
        txn.open_table(T).unwrap().insert(2, 20).unwrap();
        txn.commit().unwrap();
        sim.power_off();
    }
    for seed in [None, Some(1), Some(2), Some(3)] {
        let image = Disk::Sim(sim.durable_image(seed));
        let db = redb_backend::open(&image, p("/db/x.redb"), 1 << 20).unwrap();
        let txn = db.begin_read().unwrap();
        let t = txn.open_table(T).unwrap();
        assert_eq!(t.get(1).unwrap().unwrap().value(), 10, "seed {seed:?}");
        // The non-durable commit may or may not be there; never a broken file.
        if let Some(v) = t.get(2).unwrap() {
            assert_eq!(v.value(), 20);
        }
    }
}

#[test]
fn a_page_image_keeps_whole_dirty_pages_and_a_capture_is_a_power_loss_there() {
    use super::faults::{Keep, PAGE};
    let (d, sim) = disk();
    let f = d.create(p("/f")).unwrap();
    f.write_at(0, &vec![1u8; 4 * PAGE]).unwrap();
    f.sync_all().unwrap();
    d.sync_dir(p("/")).unwrap();
    // Rewrite all four pages, unsynced; cut just before the next operation.
    sim.capture_at([(sim.counters().ops + 1, Keep::Pages(3))]);
    f.write_at(0, &vec![2u8; 4 * PAGE]).unwrap();
    f.write_at(0, &vec![3u8; 4 * PAGE]).unwrap();
    let caps = sim.take_captures();
    assert_eq!(caps.len(), 1);
    assert!(caps[0].what.starts_with("write /f"), "{}", caps[0].what);
    let mut kinds = std::collections::BTreeSet::new();
    for seed in 0..16 {
        let got = Disk::Sim(caps[0].image.crash_image(Keep::Durable))
            .read(p("/f"))
            .unwrap();
        assert_eq!(got.len(), 4 * PAGE);
        assert!(got.iter().all(|b| *b != 3), "a write after the cut shows");
        let image = Disk::Sim(sim.crash_image(Keep::Pages(seed)));
        let got = image.read(p("/f")).unwrap();
        for page in got.chunks(PAGE) {
            assert!(page.iter().all(|b| *b == page[0]), "a page kept in part");
            kinds.insert(page[0]);
        }
    }
    assert_eq!(kinds, [1, 3].into(), "pages kept old or at their latest");
}
