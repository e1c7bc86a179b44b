//! The hourly rollups of final states (`txn_rollups`, see migration 0009) are written with
//! each final state, in the same statement or batch as the transition: one upsert that adds
//! the transaction to its hour, company, PSP account, type, state and currency, with its time
//! to the final state in one histogram bucket.

/// Upper bounds (exclusive, ms) of the time-to-final histogram buckets `b0..b13`; `b14` is the
/// rest (the same as migration 0009's backfill).
use overture_core::insight::FINAL_BOUNDS_MS as BOUNDS_MS;

/// `b0, b1, …, b14`.
pub(crate) fn bucket_columns() -> String {
    (0..=BOUNDS_MS.len())
        .map(|i| format!("b{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One 0/1 expression per bucket for a duration expression `d` (ms).
fn bucket_values(d: &str) -> String {
    (0..=BOUNDS_MS.len())
        .map(|i| {
            let cond = if i == 0 {
                format!("{d} < {}", BOUNDS_MS[0])
            } else if i == BOUNDS_MS.len() {
                format!("{d} >= {}", BOUNDS_MS[i - 1])
            } else {
                format!("{d} >= {} AND {d} < {}", BOUNDS_MS[i - 1], BOUNDS_MS[i])
            };
            format!("CASE WHEN {cond} THEN 1 ELSE 0 END")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The upsert adding the transaction row of `source` (a table or CTE name, filtered by
/// `guard`) to its rollup when the transition's new state (`$1`) is final; `$2` is the
/// transition's time. Columns read: created_at, company_id, psp_account_id, psp_type,
/// txn_type, currency, amount_minor.
pub(crate) fn upsert(source: &str, guard: &str) -> String {
    let d = "($2 - created_at)";
    let buckets = bucket_columns();
    let sets: Vec<String> = ["n", "amount_minor", "final_ms"]
        .into_iter()
        .map(str::to_owned)
        .chain((0..=BOUNDS_MS.len()).map(|i| format!("b{i}")))
        .map(|c| format!("{c} = txn_rollups.{c} + excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO txn_rollups (hour, company_id, psp_account_id, psp_type, txn_type, state, \
           currency, n, amount_minor, final_ms, {buckets}) \
         SELECT created_at - (created_at % 3600000), company_id, psp_account_id, psp_type, txn_type, \
           $1, currency, 1, amount_minor, {d}, {} FROM {source} \
         WHERE {guard} AND $1 IN ('approved', 'declined', 'failed', 'rejected') \
         ON CONFLICT (hour, company_id, psp_account_id, txn_type, state, currency) DO UPDATE SET {}",
        bucket_values(d),
        sets.join(", ")
    )
}
