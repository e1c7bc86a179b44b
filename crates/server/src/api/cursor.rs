//! Opaque page cursors over `(created_at, id)`: `base64url("<scope>:<created_at ms>:<id>")`.
//! The scope names the list and its order, so a cursor of one list is refused by another.

use crate::api::error::ApiError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// The cursor after the row `(created_at, id)` in the list `scope`.
pub fn encode(scope: &str, created_at: i64, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{scope}:{created_at}:{id}"))
}

/// [`decode`] for a transactions list: the id must be a transaction id.
pub fn decode_transaction(
    scope: &str,
    text: &str,
) -> Result<(i64, overture_core::TransactionId), ApiError> {
    let (at, id) = decode(scope, text)?;
    let id = overture_core::TransactionId::parse(&id).ok_or_else(|| {
        ApiError::field(
            "cursor",
            "not a cursor of this list (use nextCursor as given)",
        )
    })?;
    Ok((at, id))
}

/// Reads a cursor of `scope`; anything else is a 400 naming `cursor`.
pub fn decode(scope: &str, text: &str) -> Result<(i64, String), ApiError> {
    let bad = || {
        ApiError::field(
            "cursor",
            "not a cursor of this list (use nextCursor as given)",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let rest = text
        .strip_prefix(scope)
        .and_then(|r| r.strip_prefix(':'))
        .ok_or_else(bad)?;
    let (at, id) = rest.split_once(':').ok_or_else(bad)?;
    let at = at.parse().map_err(|_| bad())?;
    if id.is_empty() {
        return Err(bad());
    }
    Ok((at, id.to_owned()))
}

/// A page size from the query: default 50, 1 to 500.
pub fn limit(value: Option<&String>) -> Result<i64, ApiError> {
    match value {
        None => Ok(50),
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if (1..=500).contains(&n) => Ok(n),
            _ => Err(ApiError::field("limit", "must be an integer from 1 to 500")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_other_scopes() {
        let c = encode("txn-desc", 1_700_000_000_123, "txn_01abc");
        assert_eq!(
            decode("txn-desc", &c).unwrap(),
            (1_700_000_000_123, "txn_01abc".to_owned())
        );
        assert!(decode("txn-asc", &c).is_err());
        assert!(decode("txn-desc", "not base64!").is_err());
        assert!(decode("txn-desc", &URL_SAFE_NO_PAD.encode("txn-desc:x:y")).is_err());
        assert_eq!(limit(None).unwrap(), 50);
        assert!(limit(Some(&"501".to_owned())).is_err());
    }
}
