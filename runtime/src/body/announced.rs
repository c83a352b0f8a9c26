//! The length a response announces for its body: what the connection will hold it to.

use http::header::CONTENT_LENGTH;
use http::HeaderMap;
use http_body::SizeHint;

/// The body length the connection enforces, read before the body is first polled.
///
/// hyper takes the body's exact size hint first (HTTP/1 trusts it over a `Content-Length`
/// header, HTTP/2 writes it as the header when none is set); a body of unknown size with a
/// `Content-Length` header set by the handler (a file streamed through `Body::from_stream`,
/// tower-http's `ServeFile`) is held to the header: HTTP/1 stops writing at that length and
/// drops the body without polling it further, and a client rejects a body that ends short or
/// runs long. Several `Content-Length` values that disagree, or one that is not a number, make
/// hyper refuse the response; nothing is announced then.
#[inline]
pub(crate) fn announced_len(hint: &SizeHint, headers: &HeaderMap) -> Option<u64> {
    hint.exact().or_else(|| header_len(headers))
}

fn header_len(headers: &HeaderMap) -> Option<u64> {
    let mut values = headers.get_all(CONTENT_LENGTH).iter();
    let first = parse(values.next()?.as_bytes())?;
    values
        .all(|value| parse(value.as_bytes()) == Some(first))
        .then_some(first)
}

/// A `Content-Length` value as hyper reads it: ASCII digits, surrounding spaces allowed.
fn parse(value: &[u8]) -> Option<u64> {
    let digits = value.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(values: &[&'static str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(CONTENT_LENGTH, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn exact_hint_wins_over_the_header() {
        assert_eq!(
            announced_len(&SizeHint::with_exact(5), &headers(&["9"])),
            Some(5)
        );
    }

    #[test]
    fn unknown_size_takes_the_header() {
        let unknown = SizeHint::default();
        assert_eq!(announced_len(&unknown, &headers(&[" 42 "])), Some(42));
        assert_eq!(announced_len(&unknown, &headers(&["42", "42"])), Some(42));
        assert_eq!(announced_len(&unknown, &headers(&[])), None);
        assert_eq!(announced_len(&unknown, &headers(&["42", "43"])), None);
        assert_eq!(announced_len(&unknown, &headers(&["-1"])), None);
        assert_eq!(announced_len(&unknown, &headers(&["4 2"])), None);
    }
}
