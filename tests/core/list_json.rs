//! `--list --json` against its schema (tests/schema/list.json): every
//! shape a row can take (mounted or not, owner known or not, values
//! unknown, hostile names) validates, and the checker itself catches what
//! the schema forbids.
use crate::support::schema;
use mount_md::list::table::{json, Row, Usage, Whose};
use mount_md::unit::Listed;
use serde_json::Value;

fn rows() -> Vec<Row> {
    let full = Row {
        listed: Listed {
            unit: 3,
            device: "/dev/loop3".into(),
            image: Some(b"/srv/j \"1\"\\\x1b\xff.img".to_vec()),
            deleted: Some(false),
            size: Some(u64::MAX),
            usage: Some(Usage { size: 1 << 30, used: 0, available: 1 << 29 }),
            direct_io: Some(true),
            mark: Some(b"mount_md:/var/jails/j1".to_vec()),
            crypt: Some(("luks2".into(), "/dev/mapper/mount_md-j1".into())),
        },
        mount_point: Some(b"/var/jails/j1".to_vec()),
        fstype: Some("ext4".into()),
        read_only: Some(true),
        whose: Whose::MountMd,
    };
    let none = Listed {
        unit: 0,
        device: "/dev/md0".into(),
        image: None,
        deleted: None,
        size: None,
        usage: None,
        direct_io: None,
        mark: None,
        crypt: None,
    };
    let bare = Row { listed: none.clone(), mount_point: None, fstype: None, read_only: None, whose: Whose::Unknown };
    let listed = Listed { unit: 7, mark: Some(b"label".to_vec()), ..none };
    let foreign = Row { listed, whose: Whose::Foreign, ..bare.clone() };
    vec![full, bare, foreign]
}

#[test]
fn list_json_validates_against_its_schema() {
    let schema = schema::load("list");
    for n in 0..=rows().len() {
        let text = json(&rows()[..n]);
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(schema::violations(&schema, &v), Vec::<String>::new(), "{text}");
        assert_eq!(v["mount_md"].as_array().unwrap().len(), n);
    }
    let v: Value = serde_json::from_str(&json(&rows())).unwrap();
    assert_eq!(v["mount_md"][0]["size"], Value::from(u64::MAX));
    assert_eq!(v["mount_md"][0]["image"], Value::from("/srv/j \"1\"\\\u{1b}\u{fffd}.img"));
}

#[test]
fn the_schema_check_catches_what_the_schema_forbids() {
    let schema = schema::load("list");
    let bad = |text: &str| schema::violations(&schema, &serde_json::from_str(text).unwrap());
    assert!(!bad("[]").is_empty(), "a bare array");
    assert!(!bad(r#"{"mount_md": [{"device": "/dev/loop0"}]}"#).is_empty(), "missing members");
    let mut row: Value = serde_json::from_str(&json(&rows()[..1])).unwrap();
    row["mount_md"][0]["size"] = Value::from("1G");
    assert!(!schema::violations(&schema, &row).is_empty(), "a size that is not bytes");
    row["mount_md"][0]["size"] = Value::from(1);
    row["mount_md"][0]["owner"] = Value::from("root");
    assert!(!schema::violations(&schema, &row).is_empty(), "an owner not in the enum");
    row["mount_md"][0]["owner"] = Value::Null;
    row["mount_md"][0]["extra"] = Value::from(1);
    assert!(!schema::violations(&schema, &row).is_empty(), "an undeclared member");
}
