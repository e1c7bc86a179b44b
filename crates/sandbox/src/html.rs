//! Small HTML helpers shared by the sandboxes' hosted pages.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// HTML-escapes text that came from API parameters (for text and attribute values).
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// A minimal HTML document; `body` is trusted markup, `title` is escaped.
pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body>{body}</body></html>",
        escape(title)
    )
}

/// A 404 page saying `message` (plain text, escaped).
pub(crate) fn not_found(message: &str) -> Response {
    let body = format!("<p>{}</p>", escape(message));
    (StatusCode::NOT_FOUND, Html(page("Not found", &body))).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(
            super::escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
