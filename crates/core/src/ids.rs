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
    /// A payment transaction (pay-in or payout); its first attempt's PSP order id too
    /// ([`OrderId`]).
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
typed_id!(
    /// One attempt of a transaction at one PSP account.
    AttemptId, "att"
);

/// The order id Overture sends a PSP for one attempt of a transaction (PaynetEasy
/// `client_orderid`, ForumPay `reference_no`, Brite `merchant_reference`, …), unique per
/// attempt so a second attempt at the same PSP is never taken for the first. A transaction's
/// first attempt uses the transaction id itself (orders created before attempts existed keep
/// their ids); attempt `n ≥ 2` uses `<transaction id>_a<n>`. At most 64 characters of
/// `[0-9a-z_]`, so every PSP's reference field takes it.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct OrderId(String);

impl OrderId {
    /// The order id of attempt `seq` (1-based) of `txn`.
    pub fn for_attempt(txn: &TransactionId, seq: u32) -> Self {
        if seq <= 1 {
            Self(txn.as_str().to_owned())
        } else {
            Self(format!("{}_a{seq}", txn.as_str()))
        }
    }

    /// Parses an order id a PSP echoes back: `txn_` then `[0-9a-z_]`, at most 64 characters.
    pub fn parse(value: &str) -> Option<Self> {
        let rest = value.strip_prefix("txn_")?;
        let ok = !rest.is_empty()
            && value.len() <= 64
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        ok.then(|| Self(value.to_owned()))
    }

    /// Wraps a stored value without checking it.
    pub fn from_trusted(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for OrderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

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

    #[test]
    fn order_ids_are_the_transaction_id_then_suffixed_per_attempt() {
        let t = TransactionId::generate();
        assert_eq!(OrderId::for_attempt(&t, 1).as_str(), t.as_str());
        let second = OrderId::for_attempt(&t, 2);
        assert_eq!(second.as_str(), format!("{t}_a2"));
        assert_eq!(OrderId::parse(second.as_str()), Some(second));
        assert_eq!(OrderId::parse("cmp_1"), None);
        assert_eq!(OrderId::parse("txn_A"), None);
        assert_eq!(OrderId::parse(&format!("txn_{}", "a".repeat(61))), None);
    }
}
