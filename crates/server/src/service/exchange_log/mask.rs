//! Masking what the exchange log keeps: credentials, signatures and personal data never reach
//! the database. Bodies are read as JSON, a form or XML when they are, and every value under a
//! sensitive name (password, secret, token, signature, control, hash, key, pin, card, email,
//! phone, name, address, account, wallet, document, IP, birth date, …) becomes `***`; then any
//! run of 14 or more digits (a card number or voucher PIN, wherever it hides) keeps only its last
//! four. Excerpts are cut to [`MAX_EXCERPT`] characters.

/// Longest excerpt kept, in characters.
pub const MAX_EXCERPT: usize = 2048;

/// Words of a field name that make its value secret or personal.
const SENSITIVE: &[&str] = &[
    "pass",
    "password",
    "passwd",
    "login",
    "username",
    "user",
    "secret",
    "token",
    "signature",
    "sign",
    "control",
    "hash",
    "mac",
    "mac2",
    "key",
    "apikey",
    "authorization",
    "auth",
    "pin",
    "voucherpin",
    "cvv",
    "cvc",
    "cvv2",
    "pan",
    "card",
    "cardnumber",
    "securitycode",
    "email",
    "phone",
    "mobile",
    "name",
    "firstname",
    "lastname",
    "fullname",
    "holder",
    "address",
    "street",
    "city",
    "zip",
    "postcode",
    "postalcode",
    "iban",
    "account",
    "accountnumber",
    "wallet",
    "document",
    "documentid",
    "rut",
    "clabe",
    "cci",
    "ip",
    "ipaddress",
    "birth",
    "dob",
    "sitesecurity",
    "responsesitesecurity",
    "billingfirstname",
    "billinglastname",
    "billingemail",
    "billingtelephone",
    "telephone",
];

/// The words of a field name: split at non-alphanumerics and lower→upper case changes.
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        current.push(c.to_ascii_lowercase());
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// True when a field called `name` holds a secret or personal data.
pub fn sensitive(name: &str) -> bool {
    let lower: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    SENSITIVE.contains(&lower.as_str())
        || words(name).iter().any(|w| SENSITIVE.contains(&w.as_str()))
}

const MASK: &str = "***";

fn mask_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if sensitive(k) {
                    *v = serde_json::Value::String(MASK.into());
                } else {
                    mask_json(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask_json),
        _ => {}
    }
}

fn mask_form(text: &str) -> Option<String> {
    if text.contains(char::is_whitespace) || !text.contains('=') {
        return None;
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(text).ok()?;
    let masked: Vec<(String, String)> = pairs
        .into_iter()
        .map(|(k, v)| {
            let v = if sensitive(&k) { MASK.to_owned() } else { v };
            (k, v)
        })
        .collect();
    serde_urlencoded::to_string(masked).ok()
}

/// XML: the text of an element with a sensitive name, and sensitive attributes, masked.
fn mask_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut hide_text = false;
    while let Some(open) = rest.find('<') {
        let (before, after) = rest.split_at(open);
        out.push_str(if hide_text && !before.trim().is_empty() {
            MASK
        } else {
            before
        });
        let Some(close) = after.find('>') else {
            out.push_str(after);
            return out;
        };
        let tag = &after[..=close];
        let name: String = tag
            .trim_start_matches(['<', '/'])
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
            .collect();
        let local = name.rsplit(':').next().unwrap_or(&name);
        hide_text = !tag.starts_with("</") && !tag.ends_with("/>") && sensitive(local);
        out.push_str(&mask_attributes(tag));
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

fn mask_attributes(tag: &str) -> String {
    let mut out = String::with_capacity(tag.len());
    let mut rest = tag;
    while let Some(eq) = rest.find("=\"") {
        let (head, tail) = rest.split_at(eq);
        let name = head
            .rsplit(|c: char| c.is_whitespace())
            .next()
            .unwrap_or("");
        let Some(end) = tail[2..].find('"') else {
            break;
        };
        out.push_str(head);
        out.push_str("=\"");
        out.push_str(if sensitive(name) {
            MASK
        } else {
            &tail[2..2 + end]
        });
        out.push('"');
        rest = &tail[2 + end + 1..];
    }
    out.push_str(rest);
    out
}

/// Every run of 14 or more digits keeps its last four (`****1111`).
fn mask_digit_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 14 {
            out.push_str("****");
            out.push_str(&run[run.len() - 4..]);
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

fn cut(text: String) -> String {
    if text.chars().count() <= MAX_EXCERPT {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_EXCERPT).collect();
    cut.push('…');
    cut
}

/// The masked excerpt of a request or response body.
pub fn body(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let trimmed = text.trim();
    let masked = if let Ok(mut v) = serde_json::from_str::<serde_json::Value>(trimmed) {
        mask_json(&mut v);
        v.to_string()
    } else if trimmed.starts_with('<') {
        mask_xml(trimmed)
    } else if let Some(form) = mask_form(trimmed) {
        form
    } else {
        trimmed.to_owned()
    };
    cut(mask_digit_runs(&masked))
}

/// The masked path and query of a URL (`/api/x?token=***`).
pub fn path(path_and_query: &str) -> String {
    let masked = match path_and_query.split_once('?') {
        Some((p, q)) => match mask_form(q) {
            Some(q) => format!("{p}?{q}"),
            None => format!("{p}?{}", MASK),
        },
        None => path_and_query.to_owned(),
    };
    cut(mask_digit_runs(&masked))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_split_into_words() {
        for s in [
            "merchant_control",
            "walletAddress",
            "oauth_signature",
            "voucherPin",
            "api_key",
            "x-user-token",
            "sitesecurity",
            "userIp",
        ] {
            assert!(sensitive(s), "{s}");
        }
        for s in [
            "client_orderid",
            "amount",
            "currency",
            "status",
            "paynet-order-id",
            "description",
            "shipping",
            "recipient_type",
        ] {
            assert!(!sensitive(s), "{s}");
        }
    }

    #[test]
    fn json_form_and_xml_bodies_keep_their_shape_and_lose_their_secrets() {
        let json = body(br#"{"amount":"10.00","email":"a@b.co","card":{"number":"4111111111111111"},"order_id":"txn_1","nested":[{"api_key":"k"}]}"#);
        assert_eq!(
            json,
            r#"{"amount":"10.00","card":"***","email":"***","nested":[{"api_key":"***"}],"order_id":"txn_1"}"#
        );
        let form = body(
            b"client_orderid=txn_1&amount=10.00&control=abc123&login=merchant1&email=a%40b.co",
        );
        assert_eq!(
            form,
            "client_orderid=txn_1&amount=10.00&control=***&login=***&email=***"
        );
        let xml = body(br#"<paymentService merchantCode="M1"><submit><order orderCode="txn_1"><shopperEmailAddress>a@b.co</shopperEmailAddress><amount value="1000"/></order></submit></paymentService>"#);
        assert!(
            xml.contains("<shopperEmailAddress>***</shopperEmailAddress>"),
            "{xml}"
        );
        assert!(
            xml.contains(r#"orderCode="txn_1""#) && xml.contains(r#"value="1000""#),
            "{xml}"
        );
        assert!(!xml.contains("a@b.co"));
    }

    #[test]
    fn long_digit_runs_keep_four_digits_anywhere() {
        assert_eq!(body(b"pin 9780000200000123 ok"), "pin ****0123 ok");
        assert_eq!(
            path("/voucher/9780000200000123/redeem?trans_no=txn_1&hash=abc"),
            "/voucher/****0123/redeem?trans_no=txn_1&hash=***"
        );
        assert_eq!(
            body(b"order 1000001 at 1764720000000"),
            "order 1000001 at 1764720000000"
        );
        let long = "x".repeat(5000);
        assert!(body(long.as_bytes()).chars().count() <= MAX_EXCERPT + 1);
    }
}
