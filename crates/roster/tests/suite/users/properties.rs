//! User properties come back exactly as written, through every path: the
//! CreateUser answer, UpdateUser with its merge, GetUser and QueryUsers (read
//! from the database), and the event stream (the outbox), on both backends.
//! Generated JSON (seeded, reproducible) plus the edges: every integer a double
//! holds exactly, any double bit for bit, unicode keys, the deepest nesting
//! allowed.

use std::{collections::BTreeMap, time::Duration};

use futures::StreamExt;
use prost_types::{ListValue, Struct, Value, value::Kind};
use roster_kit::testing::Backend;
use roster_proto::v1 as pb;
use roster_users::domain::properties::MAX_PROPERTIES_DEPTH;

use crate::helpers::{Client, TestApp, expect_err, violated_fields};
use crate::on_both_backends;

on_both_backends!(
    generated_properties_round_trip_every_path,
    numbers_json_cannot_hold_are_refused,
);

/// Generated objects per backend.
const CASES: u64 = 40;

/// Upper bound on waiting for an event that must come; only a broken stream hits it.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(20);

/// A reproducible stream of pseudo-random numbers (SplitMix64).
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    fn number(&mut self) -> f64 {
        const EDGES: [f64; 13] = [
            9_007_199_254_740_991.0,
            -9_007_199_254_740_991.0,
            9_007_199_254_740_992.0,
            0.0,
            -0.0,
            0.1,
            1.0 / 3.0,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            -1e-300,
            123_456_789.125,
            1e21,
        ];
        match self.below(4) {
            0 => EDGES[self.below(EDGES.len() as u64) as usize],
            // Any integer a double holds exactly.
            1 => (self.below(1 << 54) as i64 - (1 << 53)) as f64,
            // Any finite double, bit for bit.
            _ => loop {
                let candidate = f64::from_bits(self.next());
                if candidate.is_finite() {
                    break candidate;
                }
            },
        }
    }

    fn text(&mut self) -> String {
        let parts = [
            "",
            "a",
            "Zoë",
            "e\u{301}",
            "李",
            "Жанна",
            "محمد",
            "שלום",
            "😀",
            "👩\u{200D}💻",
            "\"",
            "\\",
            "\n",
            " ",
            "{}",
            "\u{0}",
            "\u{FFFF}",
            "ﬁ",
        ];
        (0..self.below(4)).map(|_| self.pick(&parts)).collect()
    }

    fn key(&mut self) -> String {
        let keys = [
            "team",
            "clé",
            "键",
            "🔑",
            "",
            "a.b",
            "with space",
            "$ref",
            "ключ",
            "مفتاح",
            "e\u{301}",
        ];
        format!("{}{}", self.pick(&keys), self.below(3))
    }

    fn value(&mut self, depth: usize) -> Value {
        let leaf = depth == 0 || self.below(3) > 0;
        let kind = if leaf {
            match self.below(4) {
                0 => Kind::NullValue(0),
                1 => Kind::BoolValue(self.below(2) == 0),
                2 => Kind::NumberValue(self.number()),
                _ => Kind::StringValue(self.text()),
            }
        } else if self.below(2) == 0 {
            Kind::ListValue(ListValue {
                values: (0..self.below(5)).map(|_| self.value(depth - 1)).collect(),
            })
        } else {
            Kind::StructValue(self.object(depth - 1))
        };
        Value { kind: Some(kind) }
    }

    fn object(&mut self, depth: usize) -> Struct {
        Struct {
            fields: (0..self.below(6))
                .map(|_| (self.key(), self.value(depth)))
                .collect(),
        }
    }
}

/// The deepest nesting allowed: the object, then arrays and objects inside.
fn deepest() -> Value {
    let mut value = Value {
        kind: Some(Kind::StringValue("bottom".into())),
    };
    for level in 1..MAX_PROPERTIES_DEPTH {
        value = Value {
            kind: Some(if level % 2 == 0 {
                Kind::ListValue(ListValue {
                    values: vec![value],
                })
            } else {
                Kind::StructValue(Struct {
                    fields: BTreeMap::from([("level".to_owned(), value)]),
                })
            }),
        };
    }
    value
}

/// Equal, numbers bit for bit (so -0.0 is not 0.0).
fn same(a: &Value, b: &Value) -> bool {
    match (&a.kind, &b.kind) {
        (Some(Kind::NumberValue(x)), Some(Kind::NumberValue(y))) => x.to_bits() == y.to_bits(),
        (Some(Kind::ListValue(x)), Some(Kind::ListValue(y))) => {
            x.values.len() == y.values.len()
                && x.values.iter().zip(&y.values).all(|(a, b)| same(a, b))
        }
        (Some(Kind::StructValue(x)), Some(Kind::StructValue(y))) => same_object(x, y),
        (None | Some(Kind::NullValue(_)), None | Some(Kind::NullValue(_))) => true,
        (x, y) => x == y,
    }
}

fn same_object(a: &Struct, b: &Struct) -> bool {
    a.fields.len() == b.fields.len()
        && a.fields
            .iter()
            .all(|(key, value)| b.fields.get(key).is_some_and(|other| same(value, other)))
}

fn assert_same(what: &str, expected: &Struct, got: Option<&Struct>) {
    let empty = Struct::default();
    let got = got.unwrap_or(&empty);
    assert!(
        same_object(expected, got),
        "{what}:\nexpected {expected:?}\n     got {got:?}"
    );
}

/// What UpdateUser's merge makes: each key of the patch replaces that key, a
/// null removes it.
fn merged(stored: &Struct, patch: &Struct) -> Struct {
    let mut merged = stored.clone();
    for (key, value) in &patch.fields {
        if matches!(value.kind, None | Some(Kind::NullValue(_))) {
            merged.fields.remove(key);
        } else {
            merged.fields.insert(key.clone(), value.clone());
        }
    }
    merged
}

async fn get_by_name(admin: &mut Client, name: &str) -> pb::User {
    admin
        .get_user(pb::GetUserRequest {
            user: Some(pb::get_user_request::User::Name(name.into())),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner()
}

async fn generated_properties_round_trip_every_path(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let mut generator = Gen(0x5EED);
    let mut expected = Vec::new();
    for case in 0..CASES {
        let name = format!("props{case}");
        let mut created = generator.object(3);
        if case == 0 {
            created.fields.insert("deepest".into(), deepest());
            created.fields.insert(
                "max_safe".into(),
                Value {
                    kind: Some(Kind::NumberValue(9_007_199_254_740_991.0)),
                },
            );
        }
        let answer = admin
            .create_user(pb::CreateUserRequest {
                name: name.clone(),
                properties: Some(created.clone()),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|s| panic!("case {case}: {s:?}"))
            .into_inner();
        assert_same("CreateUser", &created, answer.properties.as_ref());
        let stored = get_by_name(&mut admin, &name).await;
        assert_same("GetUser after create", &created, stored.properties.as_ref());

        let patch = generator.object(3);
        let after = merged(&created, &patch);
        let updated = admin
            .update_user(pb::UpdateUserRequest {
                user: Some(pb::UserRef {
                    r#ref: Some(pb::user_ref::Ref::Id(answer.id)),
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["properties".into()],
                }),
                patch: Some(pb::UserPatch {
                    properties: Some(patch),
                    ..Default::default()
                }),
                expected_version: 0,
            })
            .await
            .unwrap_or_else(|s| panic!("case {case}: {s:?}"))
            .into_inner();
        assert_same("UpdateUser", &after, updated.properties.as_ref());
        let stored = get_by_name(&mut admin, &name).await;
        assert_same("GetUser after update", &after, stored.properties.as_ref());
        expected.push((answer.id, created, after));
    }

    let listed = admin
        .query_users(pb::QueryUsersRequest {
            sort: pb::UserSort::FirstCreated.into(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(listed.users.len(), expected.len());
    for (user, (_, _, after)) in listed.users.iter().zip(&expected) {
        assert_same("QueryUsers", after, user.properties.as_ref());
    }

    // The outbox: each user's CREATED event carries what was created, its
    // UPDATED event what the merge made.
    let mut stream = admin
        .watch_user_events(pb::WatchUserEventsRequest::default())
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    for (id, created, after) in &expected {
        for (kind, properties) in [
            (pb::UserEventKind::Created, created),
            (pb::UserEventKind::Updated, after),
        ] {
            let event = match tokio::time::timeout(DELIVERY_DEADLINE, stream.next()).await {
                Ok(Some(Ok(event))) => event,
                other => panic!("expected an event, got {other:?}"),
            };
            let user = event.user.as_ref();
            assert_eq!(
                (event.kind(), user.map(|u| u.id)),
                (kind, Some(*id)),
                "events in order"
            );
            assert_same(
                &format!("{kind:?} event"),
                properties,
                user.and_then(|u| u.properties.as_ref()),
            );
        }
    }
}

async fn numbers_json_cannot_hold_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let number = |n: f64| Value {
        kind: Some(Kind::NumberValue(n)),
    };
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let properties = Struct {
            fields: BTreeMap::from([(
                "scores".to_owned(),
                Value {
                    kind: Some(Kind::ListValue(ListValue {
                        values: vec![number(1.0), number(bad)],
                    })),
                },
            )]),
        };
        let status = expect_err(
            admin
                .create_user(pb::CreateUserRequest {
                    name: "nan".into(),
                    properties: Some(properties),
                    ..Default::default()
                })
                .await,
        );
        assert_eq!(violated_fields(&status), ["properties.scores[1]"], "{bad}");
    }
    let too_deep = Struct {
        fields: BTreeMap::from([(
            "k".to_owned(),
            Value {
                kind: Some(Kind::ListValue(ListValue {
                    values: vec![deepest()],
                })),
            },
        )]),
    };
    let status = expect_err(
        admin
            .create_user(pb::CreateUserRequest {
                name: "deep".into(),
                properties: Some(too_deep),
                ..Default::default()
            })
            .await,
    );
    assert_eq!(violated_fields(&status), ["properties"]);
    let none = admin
        .query_users(pb::QueryUsersRequest::default())
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert!(none.users.is_empty(), "nothing was created");
}
