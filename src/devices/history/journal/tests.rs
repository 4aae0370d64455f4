//! Tests of the value journal: what a fold leaves is what writing each
//! value in turn left, nothing journalled is lost to a crash, and the
//! writer folds on a flush, when full, when due and when it stops.

use std::time::Duration;

use rusqlite::Connection;

use super::super::{
    Aggregation, FOLD_BACKLOG, FOLD_CHUNK, FoldSchedule, HOUR, MINUTE, Point, Record, Writer,
    load_live, query, write_batch_to,
};
use super::*;
use crate::node::SCHEMA;
use crate::store::{Durability, Store};

fn db() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(super::super::MIGRATION).unwrap();
    conn.execute_batch(MIGRATION).unwrap();
    conn
}

fn journalled(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT count(*) FROM value_journal", [], |r| r.get(0))
}

fn value(device: &str, pin: &str, value: &str, at: i64) -> Record {
    Record::Value {
        device: device.into(),
        pin: pin.into(),
        value: value.into(),
        at,
        history: true,
    }
}

type Rollup = (String, i64, i64, f64, f64, f64);

fn rollups(conn: &Connection, width: i64) -> Vec<Rollup> {
    let mut stmt = conn
        .prepare(
            "SELECT device, bucket, count, sum, min, max FROM history_rollup
             WHERE width = ?1 ORDER BY device, bucket",
        )
        .unwrap();
    stmt.query_map([width], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[test]
fn journalled_values_are_history_only_once_folded() {
    let conn = db();
    let t0 = 1_700_000_000_000;
    write_batch_to(&conn, &[value("d1", "V1", "1", t0)], None).unwrap();
    assert_eq!(journalled(&conn).unwrap(), 1);
    assert!(load_live(&conn).unwrap().is_empty());
    assert_eq!(newest(&conn).unwrap(), Some(t0));
    assert_eq!(fold(&conn).unwrap(), 1);
    assert_eq!(journalled(&conn).unwrap(), 0);
    assert_eq!(newest(&conn).unwrap(), None);
    assert_eq!(load_live(&conn).unwrap().len(), 1);
    let raw = query(&conn, "d1", "V1", t0, t0 + 1, Aggregation::Raw, 10).unwrap();
    assert_eq!(raw.len(), 1);
}

/// Values folded in two batches and the same values folded one by one
/// leave the same tables: the later of two values with one `at` is live, an
/// older one arriving late is not, raw rows keep arrival order, rollups add
/// up (also onto a bucket already stored, and before 1970), and text or a
/// pin without history makes no rollup or row.
#[test]
fn a_fold_leaves_what_writing_each_value_in_turn_leaves() {
    let t0 = 1_700_000_000_000 - 1_700_000_000_000 % HOUR;
    let records = vec![
        value("d1", "V1", "10", t0),
        value("d2", "V1", "5", t0 + 10),
        value("d1", "V1", "20", t0 + 1_000),
        value("d1", "V1", "21", t0 + 1_000),
        value("d1", "V1", "7", t0 + 500),
        value("d1", "V2", "open", t0 + 2_000),
        value("d2", "V1", "-3", -1),
        Record::Value {
            device: "d3".into(),
            pin: "V9".into(),
            value: "99".into(),
            at: t0,
            history: false,
        },
        value("d1", "V1", "30", t0 + MINUTE),
    ];
    let bulk = db();
    write_batch_to(&bulk, &records[..4], None).unwrap();
    fold(&bulk).unwrap();
    write_batch_to(&bulk, &records[4..], None).unwrap();
    fold(&bulk).unwrap();
    let each = db();
    for record in &records {
        write_batch_to(&each, std::slice::from_ref(record), None).unwrap();
        fold(&each).unwrap();
    }
    let sorted = |conn: &Connection| {
        let mut live = load_live(conn).unwrap();
        live.sort();
        live
    };
    let live = sorted(&bulk);
    assert_eq!(live, sorted(&each));
    assert!(live.contains(&("d1".into(), "V1".into(), "30".into(), t0 + MINUTE)));
    assert!(live.contains(&("d2".into(), "V1".into(), "5".into(), t0 + 10)));
    assert!(live.contains(&("d3".into(), "V9".into(), "99".into(), t0)));
    let raw = |conn: &Connection| query(conn, "d1", "V1", t0, t0 + HOUR, Aggregation::Raw, 10);
    assert_eq!(raw(&bulk).unwrap(), raw(&each).unwrap());
    let values: Vec<String> = raw(&bulk)
        .unwrap()
        .into_iter()
        .map(|p| match p {
            Point::Raw { value, .. } => value,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(values, ["10", "7", "20", "21", "30"]);
    for width in [MINUTE, HOUR] {
        assert_eq!(rollups(&bulk, width), rollups(&each, width));
    }
    let minutes = rollups(&bulk, MINUTE);
    assert!(minutes.contains(&("d1".into(), t0, 4, 58.0, 7.0, 21.0)));
    assert!(minutes.contains(&("d2".into(), -MINUTE, 1, -3.0, -3.0, -3.0)));
    assert!(!minutes.iter().any(|r| r.0 == "d3"));
    let d3_rows: i64 = bulk
        .query_row(
            "SELECT count(*) FROM history WHERE device = 'd3'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(d3_rows, 0);
    let v2 = query(&bulk, "d1", "V2", t0, t0 + HOUR, Aggregation::Minute, 10).unwrap();
    assert!(v2.is_empty(), "text makes no rollup: {v2:?}");
}

/// An acknowledged value still in the journal when the hub dies is there
/// after the restart, and live once folded (as opening the devices does).
#[tokio::test]
async fn a_journalled_value_survives_a_crash() {
    let tmp = tempfile::tempdir().unwrap();
    let at = 1_700_000_000_000;
    let (store, thread, _) = Store::open(tmp.path(), 64, SCHEMA).unwrap();
    store
        .write(Durability::Acknowledged, move |conn| {
            append(conn, "d1", "V1", "42", at, true)
        })
        .await
        .unwrap();
    drop(store);
    thread.join().await;
    let (store, thread, _) = Store::open(tmp.path(), 64, SCHEMA).unwrap();
    assert_eq!(store.read(journalled).await.unwrap(), 1);
    store.write(Durability::Relaxed, fold).await.unwrap();
    let live = store.read(load_live).await.unwrap();
    assert_eq!(live, vec![("d1".into(), "V1".into(), "42".into(), at)]);
    drop(store);
    thread.join().await;
}

/// With a fold an hour away, an acknowledged value waits in the journal;
/// a flush folds it, and so does the writer's end.
#[tokio::test]
async fn the_writer_folds_on_a_flush_and_when_it_stops() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, thread, _) = Store::open(tmp.path(), 64, SCHEMA).unwrap();
    let (writer, task) = Writer::spawn_folding(store.clone(), 16, None, Duration::from_secs(3600));
    let t0 = 1_700_000_000_000;
    writer
        .write_durable(value("d1", "V1", "1", t0))
        .await
        .unwrap();
    assert_eq!(
        store.read(journalled).await.unwrap(),
        1,
        "acknowledged from the journal"
    );
    writer.flush().await.unwrap();
    assert_eq!(store.read(journalled).await.unwrap(), 0, "a flush folds");
    writer
        .write_durable(value("d1", "V1", "3", t0 + 2))
        .await
        .unwrap();
    assert_eq!(store.read(journalled).await.unwrap(), 1);
    drop(writer);
    task.await.unwrap();
    assert_eq!(
        store.read(journalled).await.unwrap(),
        0,
        "folded when the writer stopped"
    );
    let live = store.read(load_live).await.unwrap();
    assert_eq!(live, vec![("d1".into(), "V1".into(), "3".into(), t0 + 2)]);
    drop(store);
    thread.join().await;
}

/// Without a flush, the journal is folded once it is due (the paused clock
/// runs ahead to it).
#[tokio::test(start_paused = true)]
async fn the_writer_folds_when_due() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, thread, _) = Store::open(tmp.path(), 64, SCHEMA).unwrap();
    let every = Duration::from_secs(1);
    let (writer, _task) = Writer::spawn_folding(store.clone(), 16, None, every);
    writer
        .write_durable(value("d1", "V1", "2", 1_700_000_000_000))
        .await
        .unwrap();
    tokio::time::sleep(every * 2).await;
    assert_eq!(store.read(journalled).await.unwrap(), 0);
    assert_eq!(store.read(load_live).await.unwrap().len(), 1);
    drop(writer);
    drop(store);
    thread.join().await;
}

#[test]
fn a_fold_is_due_at_a_chunk_or_after_its_time_and_takes_the_excess_of_a_flood() {
    let now = tokio::time::Instant::now();
    let every = Duration::from_secs(1);
    let mut schedule = FoldSchedule::new(every);
    schedule.journalled(0, now);
    assert_eq!(schedule.due, None, "nothing journalled, nothing due");
    schedule.journalled(10, now);
    assert_eq!(schedule.due, Some(now + every));
    assert!(!schedule.ready(now + every / 2));
    assert!(schedule.ready(now + every));
    schedule.journalled(FOLD_CHUNK - 11, now + every / 2);
    assert_eq!(
        schedule.due,
        Some(now + every),
        "the oldest value sets the time"
    );
    assert!(!schedule.ready(now));
    schedule.journalled(1, now);
    assert!(schedule.ready(now), "a chunk is ready");
    assert_eq!(schedule.chunk(), FOLD_CHUNK);
    schedule.journalled(FOLD_BACKLOG, now);
    assert_eq!(
        schedule.chunk(),
        2 * FOLD_CHUNK,
        "the flood's excess goes too"
    );
    schedule.folded(2 * FOLD_CHUNK, now);
    assert_eq!(schedule.journalled, FOLD_BACKLOG - FOLD_CHUNK);
    assert_eq!(
        schedule.due,
        Some(now + every),
        "what is left keeps its time"
    );
    schedule.failed(now);
    assert_eq!(schedule.due, Some(now + every), "tried again later");
    schedule.folded(usize::MAX, now);
    assert_eq!((schedule.journalled, schedule.due), (0, None));
}

/// A fold of some takes the oldest and leaves the rest in the journal;
/// folding the rest leaves what one fold would have.
#[test]
fn a_partial_fold_takes_the_oldest_values() {
    let t0 = 1_700_000_000_000 - 1_700_000_000_000 % HOUR;
    let records: Vec<Record> = (0..10)
        .map(|i| value(&format!("d{}", i % 3), "V1", &i.to_string(), t0 + i))
        .collect();
    let parts = db();
    write_batch_to(&parts, &records, None).unwrap();
    assert_eq!(fold_some(&parts, 4).unwrap(), 4);
    assert_eq!(journalled(&parts).unwrap(), 6);
    let oldest: i64 = parts
        .query_row("SELECT min(at) FROM value_journal", [], |r| r.get(0))
        .unwrap();
    assert_eq!(oldest, t0 + 4);
    assert_eq!(fold_some(&parts, 100).unwrap(), 6);
    assert_eq!(fold_some(&parts, 100).unwrap(), 0);
    let whole = db();
    write_batch_to(&whole, &records, None).unwrap();
    fold(&whole).unwrap();
    let mut live = load_live(&parts).unwrap();
    live.sort();
    let mut live_whole = load_live(&whole).unwrap();
    live_whole.sort();
    assert_eq!(live, live_whole);
    assert_eq!(rollups(&parts, MINUTE), rollups(&whole, MINUTE));
    for device in ["d0", "d1", "d2"] {
        let raw = |c: &Connection| query(c, device, "V1", t0, t0 + HOUR, Aggregation::Raw, 20);
        assert_eq!(raw(&parts).unwrap(), raw(&whole).unwrap());
    }
}

/// Values whose sums would overflow, and a time at the edge of i64, keep
/// their rows but make no rollup, so the fold never fails on them (two
/// values near f64::MAX of each sign used to add up to NULL).
#[test]
fn values_past_the_rollups_range_never_stop_a_fold() {
    let conn = db();
    let t0 = 1_700_000_000_000 - 1_700_000_000_000 % HOUR;
    for v in ["1.7e308", "-1.7e308"] {
        write_batch_to(
            &conn,
            &[value("d1", "V1", v, t0), value("d1", "V1", v, t0 + 1)],
            None,
        )
        .unwrap();
        assert_eq!(fold(&conn).unwrap(), 2);
    }
    write_batch_to(&conn, &[value("d1", "V2", "1", i64::MIN)], None).unwrap();
    assert_eq!(fold(&conn).unwrap(), 1);
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM history", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 5);
    assert!(rollups(&conn, MINUTE).is_empty());
}
