//! A small WHERE-clause builder: only the filters actually given become SQL, so each search
//! can use its index (an `($n IS NULL OR col = $n)` chain would defeat them). Values are always
//! bound, never formatted into the text.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

/// One bound value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    Text(String),
    Int(i64),
}

/// Conditions joined with AND, with their values in placeholder order.
#[derive(Debug, Default)]
pub(crate) struct Filter {
    clauses: Vec<String>,
    values: Vec<Value>,
}

impl Filter {
    /// The next placeholder (`$n`).
    fn next(&mut self, value: Value) -> String {
        self.values.push(value);
        format!("${}", self.values.len())
    }

    /// Adds `column <op> $n` when `value` is given. `column` and `op` are code constants.
    pub(crate) fn cmp(&mut self, column: &str, op: &str, value: Option<Value>) {
        if let Some(value) = value {
            let p = self.next(value);
            self.clauses.push(format!("{column} {op} {p}"));
        }
    }

    /// Adds `column = $n` when `value` is given.
    pub(crate) fn eq(&mut self, column: &str, value: Option<Value>) {
        self.cmp(column, "=", value);
    }

    /// Adds the keyset condition `(time, id) <op> (at, key)` for pagination, spelt out so
    /// both backends use the `(time, …)` index: `time <op> $a OR (time = $a AND id <op> $b)`.
    /// `op` is `<` or `>` (a code constant).
    pub(crate) fn keyset(&mut self, time: &str, id: &str, op: &str, at: i64, key: &str) {
        let a = self.next(Value::Int(at));
        let b = self.next(Value::Text(key.to_owned()));
        self.clauses.push(format!(
            "({time} {op} {a} OR ({time} = {a} AND {id} {op} {b}))"
        ));
    }

    /// Adds a fixed condition without values.
    pub(crate) fn raw(&mut self, clause: &str) {
        self.clauses.push(clause.to_owned());
    }

    /// ` WHERE a AND b`, or nothing.
    pub(crate) fn where_sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    /// ` LIMIT $n OFFSET $m` with `limit + 1` rows, so the caller can tell whether more exist.
    pub(crate) fn page_sql(&mut self, limit: i64, offset: i64) -> String {
        let l = self.next(Value::Int(limit + 1));
        let o = self.next(Value::Int(offset.max(0)));
        format!(" LIMIT {l} OFFSET {o}")
    }

    /// Binds the values to `query` in order.
    pub(crate) fn bind<'q>(
        &self,
        mut query: Query<'q, Any, AnyArguments<'q>>,
    ) -> Query<'q, Any, AnyArguments<'q>> {
        for value in &self.values {
            query = match value {
                Value::Text(s) => query.bind(s.clone()),
                Value::Int(i) => query.bind(*i),
            };
        }
        query
    }
}

/// A text value, when given.
pub(crate) fn text<S: AsRef<str>>(value: Option<S>) -> Option<Value> {
    value.map(|v| Value::Text(v.as_ref().to_owned()))
}

/// An integer value, when given.
pub(crate) fn int(value: Option<i64>) -> Option<Value> {
    value.map(Value::Int)
}

/// Page size between 1 and 500 (default 50).
pub(crate) fn page_limit(limit: i64) -> i64 {
    if limit <= 0 {
        50
    } else {
        limit.min(500)
    }
}

/// Splits `limit + 1` fetched rows into the page and whether more exist.
pub(crate) fn split_page<T>(mut items: Vec<T>, limit: i64) -> (Vec<T>, bool) {
    let limit = usize::try_from(limit).unwrap_or(0);
    let has_more = items.len() > limit;
    items.truncate(limit);
    (items, has_more)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_given_filters_become_sql_in_placeholder_order() {
        let mut f = Filter::default();
        f.eq("a", text(Some("x")));
        f.eq("b", text(None::<&str>));
        f.cmp("c", ">=", int(Some(5)));
        f.raw("d IS NOT NULL");
        assert_eq!(f.where_sql(), " WHERE a = $1 AND c >= $2 AND d IS NOT NULL");
        assert_eq!(f.page_sql(10, 20), " LIMIT $3 OFFSET $4");
        assert_eq!(f.values[2], Value::Int(11));
        assert_eq!(Filter::default().where_sql(), "");
    }

    #[test]
    fn pages_split() {
        assert_eq!(split_page(vec![1, 2, 3], 2), (vec![1, 2], true));
        assert_eq!(split_page(vec![1, 2], 2), (vec![1, 2], false));
        assert_eq!(page_limit(0), 50);
        assert_eq!(page_limit(10_000), 500);
    }
}
