//! Strict reading of JSON request bodies, before anything else looks at them.
//!
//! serde_json accepts duplicate object keys (the last one wins) and nests up to 128 levels, and
//! both have bitten the money path: `{"baseamount":1,"baseamount":100000}` was stored as 100000,
//! and a body too deep for serde_json's recursion limit made the idempotency hash fall back to
//! the hash of an empty string, so different payouts replayed each other. Here a body is
//! refused when it nests deeper than [`MAX_DEPTH`] (checked by a byte scan before any parser
//! recursion) or repeats a key at any level; what is accepted carries a canonical form whose
//! SHA-256 ([`JsonObject::sha256`]) cannot fail.

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;

/// Deepest nesting of objects and arrays accepted (the top-level object is depth 1).
pub const MAX_DEPTH: usize = 32;

/// Why a body was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Objects/arrays nested deeper than [`MAX_DEPTH`].
    #[error("the body nests objects or arrays deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// The same key twice in one object; the path names it (`baseamount`, `meta.kind`).
    #[error("duplicate key {0:?}")]
    DuplicateKey(String),
    /// Not JSON at all.
    #[error("{0}")]
    Malformed(String),
    /// JSON, but the top level is not an object.
    #[error("the body must be a JSON object")]
    NotAnObject,
}

/// A JSON object body that passed the strict checks.
#[derive(Debug)]
pub struct JsonObject {
    /// Top-level fields, each as its exact JSON text (numbers keep their literal digits).
    pub fields: BTreeMap<String, Box<RawValue>>,
    /// Keys sorted, insignificant whitespace dropped, strings re-escaped one way.
    canonical: String,
}

impl JsonObject {
    /// SHA-256 (hex) of the canonical form: the same for bodies that differ only in key order
    /// or whitespace, different for bodies that differ in any key or value.
    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(self.canonical.as_bytes()))
    }
}

/// Reads `bytes` as one JSON object under the strict rules.
pub fn parse_object(bytes: &[u8]) -> Result<JsonObject, BodyError> {
    if nesting_depth(bytes) > MAX_DEPTH {
        return Err(BodyError::TooDeep);
    }
    let raw: Box<RawValue> =
        serde_json::from_slice(bytes).map_err(|e| BodyError::Malformed(e.to_string()))?;
    if !raw.get().starts_with('{') {
        return Err(BodyError::NotAnObject);
    }
    let fields = object_fields(&raw, "")?;
    let mut canonical = String::with_capacity(bytes.len());
    write_object(&fields, "", &mut canonical)?;
    Ok(JsonObject { fields, canonical })
}

/// The deepest `{`/`[` nesting outside strings. Malformed input gets some number; the parser
/// reports it afterwards, but never recurses deeper than this scan allowed.
fn nesting_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                (false, _) => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// An object's entries in document order, duplicates kept (so they can be reported).
struct Entries(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<String, Box<RawValue>>()? {
                    out.push(entry);
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// An array's items as raw JSON.
struct Items(Vec<Box<RawValue>>);

impl<'de> Deserialize<'de> for Items {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Items;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Items, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<Box<RawValue>>()? {
                    out.push(item);
                }
                Ok(Items(out))
            }
        }
        d.deserialize_seq(V)
    }
}

fn malformed(e: serde_json::Error) -> BodyError {
    BodyError::Malformed(e.to_string())
}

fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// One object's fields; a repeated key (after unescaping) is refused with its path.
fn object_fields(raw: &RawValue, path: &str) -> Result<BTreeMap<String, Box<RawValue>>, BodyError> {
    let Entries(entries) = serde_json::from_str(raw.get()).map_err(malformed)?;
    let mut fields = BTreeMap::new();
    for (key, value) in entries {
        if fields.contains_key(&key) {
            return Err(BodyError::DuplicateKey(child_path(path, &key)));
        }
        fields.insert(key, value);
    }
    Ok(fields)
}

fn write_object(
    fields: &BTreeMap<String, Box<RawValue>>,
    path: &str,
    out: &mut String,
) -> Result<(), BodyError> {
    out.push('{');
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::Value::String(key.clone()).to_string());
        out.push(':');
        write_value(value, &child_path(path, key), out)?;
    }
    out.push('}');
    Ok(())
}

/// Appends the canonical form of one value, checking nested objects for duplicate keys.
/// Recursion is bounded by [`MAX_DEPTH`], checked before parsing began.
fn write_value(raw: &RawValue, path: &str, out: &mut String) -> Result<(), BodyError> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'{') => write_object(&object_fields(raw, path)?, path, out),
        Some(b'[') => {
            let Items(items) = serde_json::from_str(text).map_err(malformed)?;
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, &format!("{path}[{i}]"), out)?;
            }
            out.push(']');
            Ok(())
        }
        Some(b'"') => {
            let s: String = serde_json::from_str(text).map_err(malformed)?;
            out.push_str(&serde_json::Value::String(s).to_string());
            Ok(())
        }
        // Numbers keep their literal text (never through a float); true, false, null as is.
        _ => {
            out.push_str(text);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        format!(
            "{}{}{}",
            "{\"a\":".repeat(depth - 1),
            "{}",
            "}".repeat(depth - 1)
        )
    }

    #[test]
    fn refuses_bodies_nested_deeper_than_the_limit() {
        assert!(parse_object(nested(MAX_DEPTH).as_bytes()).is_ok());
        assert_eq!(
            parse_object(nested(MAX_DEPTH + 1).as_bytes()).unwrap_err(),
            BodyError::TooDeep
        );
        // Far past serde_json's own recursion limit (128): still the same clear refusal.
        let deep = format!(r#"{{"x":{}1{}}}"#, "[".repeat(5000), "]".repeat(5000));
        assert_eq!(
            parse_object(deep.as_bytes()).unwrap_err(),
            BodyError::TooDeep
        );
        // Brackets inside strings do not count.
        let quoted = format!(r#"{{"x":"{}"}}"#, "[{".repeat(100));
        assert!(parse_object(quoted.as_bytes()).is_ok());
    }

    #[test]
    fn two_deep_bodies_never_share_a_hash() {
        // Both are refused before hashing, so neither can replay the other.
        let a = format!(
            r#"{{"amount":1,"x":{}0{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        let b = format!(
            r#"{{"amount":2,"x":{}0{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert!(parse_object(a.as_bytes()).is_err());
        assert!(parse_object(b.as_bytes()).is_err());
    }

    #[test]
    fn refuses_duplicate_keys_at_any_level_naming_them() {
        let e = parse_object(br#"{"baseamount":1,"baseamount":100000}"#).unwrap_err();
        assert_eq!(e, BodyError::DuplicateKey("baseamount".into()));
        let e = parse_object(br#"{"meta":{"k":1,"k":2}}"#).unwrap_err();
        assert_eq!(e, BodyError::DuplicateKey("meta.k".into()));
        let e = parse_object(br#"{"list":[{"k":1},{"k":1,"k":2}]}"#).unwrap_err();
        assert_eq!(e, BodyError::DuplicateKey("list[1].k".into()));
        // An escaped spelling of the same key is the same key.
        let e = parse_object(br#"{"ab":1,"a\u0062":2}"#).unwrap_err();
        assert_eq!(e, BodyError::DuplicateKey("ab".into()));
    }

    #[test]
    fn hash_ignores_order_and_whitespace_but_not_values() {
        let a = parse_object(br#"{"a":1,"b":"x","c":[1,{"d":null}]}"#).unwrap();
        let b =
            parse_object(b"{ \"c\" : [ 1 , { \"d\" : null } ] ,\n \"b\":\"\\u0078\", \"a\":1 }")
                .unwrap();
        assert_eq!(a.sha256(), b.sha256());
        let c = parse_object(br#"{"a":1,"b":"y","c":[1,{"d":null}]}"#).unwrap();
        assert_ne!(a.sha256(), c.sha256());
        let d = parse_object(br#"{"a":10,"b":"x","c":[1,{"d":null}]}"#).unwrap();
        assert_ne!(a.sha256(), d.sha256());
        // Numbers keep their digits: 1e400 does not overflow anything.
        assert!(parse_object(br#"{"a":1e400}"#).is_ok());
    }

    #[test]
    fn non_objects_and_garbage_are_told_apart() {
        assert_eq!(parse_object(b"[1,2]").unwrap_err(), BodyError::NotAnObject);
        assert_eq!(parse_object(b"\"s\"").unwrap_err(), BodyError::NotAnObject);
        assert!(matches!(
            parse_object(b"{\"a\":").unwrap_err(),
            BodyError::Malformed(_)
        ));
        assert!(matches!(
            parse_object(b"{} trailing").unwrap_err(),
            BodyError::Malformed(_)
        ));
    }
}
