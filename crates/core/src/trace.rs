//! W3C Trace Context (`traceparent`, version `00`): the trace a request belongs to, kept with
//! the transaction it creates, so every later call made for that transaction (PSP calls, status
//! polls, its webhook) carries the same trace id.
//!
//! A header is `00-<trace-id: 32 hex>-<parent-id: 16 hex>-<flags: 2 hex>`, lowercase; an
//! all-zero trace or parent id is invalid (<https://www.w3.org/TR/trace-context/>).

use std::fmt;

/// A trace id: 16 bytes, never all zero. Shown (and stored) as 32 lowercase hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceId([u8; 16]);

/// One `traceparent`: the trace id, the id of the span it names (the caller's, or ours when we
/// send it), and the trace flags (bit 0: sampled).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceParent {
    trace_id: TraceId,
    span_id: [u8; 8],
    flags: u8,
}

/// The `sampled` trace flag.
const SAMPLED: u8 = 0x01;

impl TraceId {
    /// A new random trace id.
    pub fn generate() -> Self {
        loop {
            let bytes: [u8; 16] = rand::random();
            if bytes != [0; 16] {
                return Self(bytes);
            }
        }
    }

    /// Parses 32 lowercase hex digits (a stored id, or the middle of a header); `None` when
    /// malformed or all zero.
    pub fn parse(hex: &str) -> Option<Self> {
        let bytes = from_hex::<16>(hex)?;
        (bytes != [0; 16]).then_some(Self(bytes))
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl TraceParent {
    /// Parses a `traceparent` header value. Version `00` must be exactly 55 characters; a
    /// later version (not `ff`) may append fields after a `-`, which are ignored. `None` when
    /// malformed (uppercase hex, wrong lengths, all-zero ids, version `ff`).
    pub fn parse(header: &str) -> Option<Self> {
        let header = header.trim_matches(|c| c == ' ' || c == '\t');
        if !header.is_ascii() {
            return None;
        }
        let version = from_hex::<1>(header.get(..2)?)?[0];
        let fits = match version {
            0xff => false,
            0x00 => header.len() == 55,
            _ => header.len() == 55 || header.as_bytes().get(55) == Some(&b'-'),
        };
        if !fits || [2, 35, 52].iter().any(|&i| header.as_bytes()[i] != b'-') {
            return None;
        }
        let trace_id = TraceId::parse(&header[3..35])?;
        let span_id = from_hex::<8>(&header[36..52])?;
        let flags = from_hex::<1>(&header[53..55])?[0];
        (span_id != [0; 8]).then_some(Self {
            trace_id,
            span_id,
            flags,
        })
    }

    /// A new trace (random trace id), sampled, with a random span id: for a request that came
    /// without a valid `traceparent`.
    pub fn generate() -> Self {
        Self::in_trace(TraceId::generate())
    }

    /// A new span (random span id, sampled) in `trace_id`: for calls made later for a
    /// transaction whose trace id was stored.
    pub fn in_trace(trace_id: TraceId) -> Self {
        Self {
            trace_id,
            span_id: random_span_id(),
            flags: SAMPLED,
        }
    }

    /// A child: the same trace and flags with a new span id (one per outgoing call).
    pub fn child(&self) -> Self {
        Self {
            span_id: random_span_id(),
            ..*self
        }
    }

    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The span id as 16 lowercase hex digits.
    pub fn span_id(&self) -> String {
        let mut out = String::with_capacity(16);
        for b in self.span_id {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        out
    }
}

impl fmt::Display for TraceParent {
    /// The header value, `00-<trace id>-<span id>-<flags>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "00-{}-", self.trace_id)?;
        write_hex(f, &self.span_id)?;
        f.write_str("-")?;
        write_hex(f, &[self.flags])
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn random_span_id() -> [u8; 8] {
    loop {
        let bytes: [u8; 8] = rand::random();
        if bytes != [0; 8] {
            return bytes;
        }
    }
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

/// `N` bytes from exactly `2N` lowercase hex digits.
fn from_hex<const N: usize>(hex: &str) -> Option<[u8; N]> {
    let digits = hex.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn parses_and_prints_the_spec_example() {
        let tp = TraceParent::parse(EXAMPLE).unwrap();
        assert_eq!(tp.to_string(), EXAMPLE);
        assert_eq!(
            tp.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(tp.span_id(), "00f067aa0ba902b7");
    }

    #[test]
    fn refuses_malformed_headers() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad:?}");
        }
        // A later version may carry more fields; the known ones are read.
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future";
        assert!(TraceParent::parse(later).is_some());
    }

    #[test]
    fn children_keep_the_trace_and_flags_with_a_new_span() {
        let tp =
            TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").unwrap();
        let child = tp.child();
        assert_eq!(child.trace_id(), tp.trace_id());
        assert_ne!(child.span_id(), tp.span_id());
        assert!(child.to_string().ends_with("-00"), "not sampled stays so");
        let fresh = TraceParent::generate();
        assert_eq!(TraceParent::parse(&fresh.to_string()), Some(fresh));
        assert!(fresh.to_string().ends_with("-01"));
        let resumed = TraceParent::in_trace(fresh.trace_id());
        assert_eq!(resumed.trace_id(), fresh.trace_id());
        assert_eq!(
            TraceId::parse(&fresh.trace_id().to_string()),
            Some(fresh.trace_id())
        );
    }
}
