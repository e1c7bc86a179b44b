//! Prefixed typed ids (`txn_…`, `cmp_…`, …) so an id of one kind can never be passed where
//! another is expected. Every id is the prefix, an underscore and a UUIDv7 in simple hex form,
//! which sorts by creation time.

/// Declares a typed id newtype with its prefix.
macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The id prefix, without the underscore.
            pub const PREFIX: &'static str = $prefix;

            /// A fresh, time-ordered id.
            pub fn generate() -> Self {
                Self(format!("{}_{}", $prefix, uuid::Uuid::now_v7().simple()))
            }

            /// Wraps a stored value without checking it (for rows read back from the store).
            pub fn from_trusted(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// Parses user input: it must carry this id's prefix and only `[0-9a-z_]` after it.
            pub fn parse(value: &str) -> Option<Self> {
                let rest = value.strip_prefix(concat!($prefix, "_"))?;
                let ok = !rest.is_empty()
                    && rest.len() <= 64
                    && rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                ok.then(|| Self(value.to_owned()))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

typed_id!(
    /// A payment transaction (pay-in or payout). Also the PSP order id (`client_orderid`).
    TransactionId, "txn"
);
typed_id!(
    /// A merchant platform (company).
    CompanyId, "cmp"
);
typed_id!(
    /// One company's account at one PSP.
    PspAccountId, "psp"
);
typed_id!(
    /// One webhook event; its value is the Standard Webhooks `webhook-id`.
    WebhookId, "msg"
);
typed_id!(
    /// A back-office operator.
    OperatorId, "opr"
);
typed_id!(
    /// A pay-in session (the Cashier API's `sessionId`).
    SessionId, "ses"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back_and_sort_by_time() {
        let a = TransactionId::generate();
        let b = TransactionId::generate();
        assert!(a.as_str().starts_with("txn_"));
        assert_eq!(TransactionId::parse(a.as_str()), Some(a.clone()));
        assert!(a < b);
    }

    #[test]
    fn parse_rejects_other_prefixes_and_odd_characters() {
        let c = CompanyId::generate();
        assert_eq!(TransactionId::parse(c.as_str()), None);
        assert_eq!(TransactionId::parse("txn_"), None);
        assert_eq!(TransactionId::parse("txn_abc'; drop"), None);
    }
}
