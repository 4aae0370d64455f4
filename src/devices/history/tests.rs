//! Unit tests of history: live values, rollups, retention and events, on an in-memory database;
//! they never touch a file, and wall-clock readings are given as numbers, never read.

use super::*;

fn db() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(MIGRATION).unwrap();
    conn.execute_batch(journal::MIGRATION).unwrap();
    conn
}

fn value(pin: &str, value: &str, at: i64) -> Record {
    Record::Value {
        device: "d1".into(),
        pin: pin.into(),
        value: value.into(),
        at,
        history: true,
    }
}

#[test]
fn values_become_live_history_and_rollups() {
    let conn = db();
    let t0 = 1_700_000_000_000 - 1_700_000_000_000 % HOUR;
    write_batch(
        &conn,
        &[
            value("V1", "10", t0),
            value("V1", "20", t0 + 1_000),
            value("V1", "30", t0 + MINUTE),
        ],
    )
    .unwrap();
    assert_eq!(
        load_live(&conn).unwrap(),
        vec![("d1".into(), "V1".into(), "30".into(), t0 + MINUTE)]
    );
    let raw = query(&conn, "d1", "V1", t0, t0 + HOUR, Aggregation::Raw, 10).unwrap();
    assert_eq!(raw.len(), 3);
    assert_eq!(
        raw[0],
        Point::Raw {
            at: t0,
            value: "10".into()
        }
    );
    let minutes = query(&conn, "d1", "V1", t0, t0 + HOUR, Aggregation::Minute, 10).unwrap();
    assert_eq!(
        minutes,
        vec![
            Point::Rollup {
                at: t0,
                count: 2,
                avg: 15.0,
                min: 10.0,
                max: 20.0
            },
            Point::Rollup {
                at: t0 + MINUTE,
                count: 1,
                avg: 30.0,
                min: 30.0,
                max: 30.0
            },
        ]
    );
    let hours = query(&conn, "d1", "V1", t0, t0 + HOUR, Aggregation::Hour, 10).unwrap();
    assert_eq!(
        hours,
        vec![Point::Rollup {
            at: t0,
            count: 3,
            avg: 20.0,
            min: 10.0,
            max: 30.0
        }]
    );
}

#[test]
fn an_older_value_arriving_late_does_not_replace_the_live_one() {
    let conn = db();
    write_batch(
        &conn,
        &[value("V1", "new", 2_000), value("V1", "old", 1_000)],
    )
    .unwrap();
    assert_eq!(load_live(&conn).unwrap()[0].2, "new");
    assert_eq!(
        query(&conn, "d1", "V1", 0, 3_000, Aggregation::Raw, 10)
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn retention_counts_back_from_the_newest_row_so_a_stale_clock_deletes_nothing() {
    let conn = db();
    let now = 1_800_000_000_000;
    write_batch(
        &conn,
        &[
            value("V1", "1", now - 40 * DAY),
            value("V1", "2", now - DAY),
            value("V1", "3", now),
        ],
    )
    .unwrap();
    let retention = Retention {
        raw_days: 30,
        per_pin: vec![],
        minute_days: 90,
        hour_days: 3650,
    };
    // A hub booted with its clock in 1970: nothing fresh may go.
    assert_eq!(purge(&conn, &retention, 0).unwrap(), Purged::default());
    assert_eq!(
        query(&conn, "d1", "V1", 0, now + 1, Aggregation::Raw, 10)
            .unwrap()
            .len(),
        3
    );
    // A clock years ahead: measured from the newest row, only the 40-day-old row goes.
    let purged = purge(&conn, &retention, now + 3650 * DAY).unwrap();
    assert_eq!(purged.raw, 1);
    assert_eq!(
        query(&conn, "d1", "V1", 0, now + 1, Aggregation::Raw, 10)
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn a_pins_own_retention_wins_and_rollups_outlive_raw_rows() {
    let conn = db();
    let now = 1_800_000_000_000;
    write_batch(
        &conn,
        &[
            value("V1", "1", now - 5 * DAY),
            value("V2", "1", now - 5 * DAY),
            value("V1", "1", now),
            value("V2", "1", now),
        ],
    )
    .unwrap();
    let retention = Retention {
        raw_days: 30,
        per_pin: vec![("d1".into(), "V1".into(), 2)],
        minute_days: 90,
        hour_days: 3650,
    };
    assert_eq!(
        purge(&conn, &retention, now).unwrap(),
        Purged { raw: 1, rollups: 0 }
    );
    let minutes = query(
        &conn,
        "d1",
        "V1",
        now - 10 * DAY,
        now + 1,
        Aggregation::Minute,
        10,
    )
    .unwrap();
    assert_eq!(minutes.len(), 2, "the rollup of the purged row stays");
}

#[test]
fn events_are_kept_and_cleared() {
    let conn = db();
    let event = |code: &str, at| Record::Event {
        device: "d1".into(),
        code: code.into(),
        description: Some("hot".into()),
        at,
    };
    write_batch(&conn, &[event("overheat", 1), event("door", 2)]).unwrap();
    write_batch(
        &conn,
        &[Record::ClearEvents {
            device: "d1".into(),
            code: Some("overheat".into()),
            at: 3,
        }],
    )
    .unwrap();
    let listed = events(&conn, "d1", 10).unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!((listed[0].code.as_str(), listed[0].cleared), ("door", None));
    assert_eq!(
        (listed[1].code.as_str(), listed[1].cleared),
        ("overheat", Some(3))
    );
}

#[test]
fn a_wall_clock_jump_is_noticed() {
    let mut check = ClockCheck::new(Duration::from_secs(60));
    assert!(check.steady(1_000_000));
    assert!(check.steady(1_000_000));
    assert!(
        !check.steady(1_000_000 + 3_600_000),
        "an hour's jump in no time"
    );
    assert!(
        check.steady(1_000_000 + 3_600_000),
        "steady again from the new reading"
    );
}

#[test]
fn a_purge_goes_in_bounded_steps_and_keeps_what_is_fresh() {
    let conn = db();
    let now = 1_800_000_000_000;
    let mut old: Vec<Record> = (0..25)
        .map(|i| value("V1", "1", now - 40 * DAY + i))
        .collect();
    old.push(value("V1", "2", now));
    old.push(value("V2", "7", now - 50 * DAY));
    old.push(value("V2", "8", now));
    write_batch(&conn, &old).unwrap();
    let retention = Retention {
        raw_days: 30,
        per_pin: vec![],
        minute_days: 36_500,
        hour_days: 36_500,
    };
    let mut cut = cutoffs(&conn, &retention, now).unwrap();
    let steps: Vec<usize> = std::iter::from_fn(|| {
        let n = purge_some(&conn, &mut cut, 10).unwrap().total();
        (n > 0).then_some(n)
    })
    .take(10)
    .collect();
    assert_eq!(steps, [10, 10, 6], "26 old rows in steps of at most 10");
    for pin in ["V1", "V2"] {
        let left = query(&conn, "d1", pin, 0, now + 1, Aggregation::Raw, 100).unwrap();
        assert_eq!(left.len(), 1, "{pin}: the fresh row stays");
    }
}
