//! HTTP/1.1 on the wire, sans-IO (as h11 does it): the bytes of a request, and a reader that
//! is fed a response's bytes as they arrive and says when it is whole.
//!
//! The Python adapter sends and reads through it on its own sockets: the standard library's
//! `http.client` read every response's headers through the e-mail parser, the largest single
//! cost of a request in Python. Node keeps undici. Framing follows RFC 9112 section 6.3: no
//! body for `HEAD`, `1xx`, `204` and `304`; `Transfer-Encoding: chunked`; `Content-Length`;
//! otherwise the body ends when the server closes the connection. Every doubt is an error, never
//! a guess: a response with both `Transfer-Encoding` and `Content-Length`, a bad length, bytes
//! after the response, a head or a body past its bound.

use std::fmt;

/// The most bytes a response's head (status line and headers) may take.
pub const MAX_HEAD: usize = 64 << 10;

/// The most headers a response may carry.
const MAX_HEADERS: usize = 128;

/// Why a response cannot be read: the code the adapter reports as the request's failure
/// ([`crate::http::TransportFailure::classify`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// Not HTTP/1.x as RFC 9112 writes it (the detail says what).
    BadResponse(String),
    /// The body passed the reader's bound.
    TooLarge,
    /// The connection closed before the response was whole.
    Closed,
}

impl WireError {
    /// The failure code: `bad_response`, `too_large` or `reset`.
    pub fn code(&self) -> &'static str {
        match self {
            WireError::BadResponse(_) => "bad_response",
            WireError::TooLarge => "too_large",
            WireError::Closed => "reset",
        }
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::BadResponse(why) => write!(f, "not a valid HTTP/1.1 response: {why}"),
            WireError::TooLarge => f.write_str("the response is larger than regprune reads"),
            WireError::Closed => f.write_str("the connection closed before a whole response"),
        }
    }
}

/// Why a request cannot be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError(pub String);

/// The bytes of one request. `authority` is the `Host` (`host[:port]`), `target` the path and
/// query (or `host:port` for `CONNECT`). A line break or a control character in any part is
/// refused (it would smuggle a header or a second request). A body gets its `Content-Length`;
/// so does a `POST`, `PUT` or `PATCH` without one (`0`). `Accept-Encoding: identity` unless
/// the headers name one: bodies are hashed as they are, never decoded.
pub fn encode_request(
    method: &str,
    target: &str,
    authority: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
) -> Result<Vec<u8>, RequestError> {
    let token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    if !token(method) {
        return Err(RequestError(format!("bad method {method:?}")));
    }
    let clean = |s: &str| s.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f));
    if target.is_empty() || target.contains(' ') || !clean(target) || !clean(authority) {
        return Err(RequestError(format!(
            "bad request target {target:?} or host {authority:?}"
        )));
    }
    let mut out = Vec::with_capacity(256 + body.map_or(0, <[u8]>::len));
    out.extend_from_slice(
        format!("{method} {target} HTTP/1.1\r\nHost: {authority}\r\n").as_bytes(),
    );
    let mut encoding = false;
    for (name, value) in headers {
        if !token(name) || !clean(value) {
            return Err(RequestError(format!("bad header {name:?}")));
        }
        if name.eq_ignore_ascii_case("host") || name.eq_ignore_ascii_case("content-length") {
            continue; // written here, from the request itself
        }
        encoding |= name.eq_ignore_ascii_case("accept-encoding");
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    if !encoding && method != "CONNECT" {
        out.extend_from_slice(b"Accept-Encoding: identity\r\n");
    }
    match body {
        Some(b) => out.extend_from_slice(format!("Content-Length: {}\r\n", b.len()).as_bytes()),
        None if matches!(method, "POST" | "PUT" | "PATCH") => {
            out.extend_from_slice(b"Content-Length: 0\r\n");
        }
        None => {}
    }
    out.extend_from_slice(b"\r\n");
    if let Some(b) = body {
        out.extend_from_slice(b);
    }
    Ok(out)
}

/// A whole response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireResponse {
    /// The status code.
    pub status: u16,
    /// The headers, in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
    /// Whether the connection may carry the next request.
    pub keep_alive: bool,
}

#[derive(Debug)]
enum Body {
    /// Reading the head.
    Head,
    /// `n` more bytes.
    Length(usize),
    /// Chunked: reading a chunk-size line, `n` more bytes of a chunk (then its CRLF), or the
    /// trailers.
    ChunkSize,
    Chunk(usize),
    ChunkEnd,
    Trailers,
    /// Until the connection closes.
    UntilClose,
    Done,
}

/// Reads one response from the bytes fed to it.
#[derive(Debug)]
pub struct ResponseReader {
    method_has_no_body: bool,
    connect: bool,
    max_body: usize,
    buf: Vec<u8>,
    state: Body,
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    keep_alive: bool,
}

impl ResponseReader {
    /// A reader for the response to `method` (`HEAD` and `CONNECT` shape it), refusing a body
    /// larger than `max_body`.
    pub fn new(method: &str, max_body: usize) -> ResponseReader {
        ResponseReader {
            method_has_no_body: method == "HEAD",
            connect: method == "CONNECT",
            max_body,
            buf: Vec::new(),
            state: Body::Head,
            status: 0,
            headers: Vec::new(),
            body: Vec::new(),
            keep_alive: false,
        }
    }

    /// Takes the next bytes from the connection; `Ok(true)` once the response is whole.
    pub fn feed(&mut self, data: &[u8]) -> Result<bool, WireError> {
        if matches!(self.state, Body::Done) {
            if !data.is_empty() {
                return Err(bad("bytes after the response"));
            }
            return Ok(true);
        }
        if self.buf.is_empty() {
            // Most bodies arrive whole: read them from the caller's bytes, not a copy.
            self.advance(data)
        } else {
            let mut buf = std::mem::take(&mut self.buf);
            buf.extend_from_slice(data);
            self.advance(&buf)
        }
    }

    /// The connection closed: `Ok` when that ends the response (a body read until close).
    pub fn end(&mut self) -> Result<(), WireError> {
        match self.state {
            Body::Done => Ok(()),
            Body::UntilClose => {
                self.state = Body::Done;
                self.keep_alive = false;
                Ok(())
            }
            _ => Err(WireError::Closed),
        }
    }

    /// The whole response (after `feed` said so, or `end` accepted the close).
    pub fn take(&mut self) -> Option<WireResponse> {
        matches!(self.state, Body::Done).then(|| WireResponse {
            status: self.status,
            headers: std::mem::take(&mut self.headers),
            body: std::mem::take(&mut self.body),
            keep_alive: self.keep_alive,
        })
    }

    /// Runs the state machine over `data`; what is left unread is kept for the next bytes.
    fn advance(&mut self, mut data: &[u8]) -> Result<bool, WireError> {
        loop {
            match self.state {
                Body::Head => {
                    let Some(used) = self.head(data)? else {
                        if data.len() > MAX_HEAD {
                            return Err(bad("a head longer than 64 KiB"));
                        }
                        self.buf = data.to_vec();
                        return Ok(false);
                    };
                    data = &data[used..];
                    if matches!(self.state, Body::Head) && data.is_empty() {
                        return Ok(false); // an interim answer, and nothing after it yet
                    }
                }
                Body::Length(0) => self.state = Body::Done,
                Body::Length(n) => {
                    let take = n.min(data.len());
                    self.body.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    self.state = Body::Length(n - take);
                    if n > take {
                        return Ok(false);
                    }
                }
                Body::ChunkSize => {
                    let Some(end) = find_crlf(data) else {
                        return self.keep(data, "a chunk-size line longer than 1 KiB");
                    };
                    let line = &data[..end];
                    let size = line.split(|&b| b == b';').next().unwrap_or_default();
                    let size = std::str::from_utf8(size)
                        .ok()
                        .map(|s| s.trim_matches([' ', '\t']))
                        .filter(|s| !s.is_empty() && s.len() <= 15)
                        .and_then(|s| usize::from_str_radix(s, 16).ok())
                        .ok_or_else(|| bad("a bad chunk size"))?;
                    data = &data[end + 2..];
                    if self.body.len() + size > self.max_body {
                        return Err(WireError::TooLarge);
                    }
                    self.state = if size == 0 {
                        Body::Trailers
                    } else {
                        Body::Chunk(size)
                    };
                }
                Body::Chunk(n) => {
                    let take = n.min(data.len());
                    self.body.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if n > take {
                        self.state = Body::Chunk(n - take);
                        return Ok(false);
                    }
                    self.state = Body::ChunkEnd;
                }
                Body::ChunkEnd => {
                    if data.len() < 2 {
                        return self.keep(data, "");
                    }
                    if &data[..2] != b"\r\n" {
                        return Err(bad("a chunk that does not end where its size says"));
                    }
                    data = &data[2..];
                    self.state = Body::ChunkSize;
                }
                Body::Trailers => {
                    let Some(end) = find_crlf(data) else {
                        return self.keep(data, "a trailer line longer than 1 KiB");
                    };
                    data = &data[end + 2..];
                    if end == 0 {
                        self.state = Body::Done;
                    }
                }
                Body::UntilClose => {
                    if self.body.len() + data.len() > self.max_body {
                        return Err(WireError::TooLarge);
                    }
                    self.body.extend_from_slice(data);
                    return Ok(false);
                }
                Body::Done => {
                    if !data.is_empty() {
                        return Err(bad("bytes after the response"));
                    }
                    return Ok(true);
                }
            }
        }
    }

    /// Keeps a partial line for the next bytes (a line is bounded to 1 KiB).
    fn keep(&mut self, data: &[u8], too_long: &str) -> Result<bool, WireError> {
        if data.len() > 1024 {
            return Err(bad(too_long));
        }
        self.buf = data.to_vec();
        Ok(false)
    }

    /// Parses a head at the start of `data`: how many bytes it took, or `None` for more.
    /// Interim (`1xx`) heads are skipped.
    fn head(&mut self, data: &[u8]) -> Result<Option<usize>, WireError> {
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut slots);
        let used = match response.parse(data) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(bad(&format!("{e}"))),
        };
        let status = response.code.unwrap_or_default();
        let version = response.version.unwrap_or_default();
        if (100..200).contains(&status) && status != 101 {
            // An interim answer (100 Continue, 103 Early Hints): the real one follows (the
            // state stays `Head`; a flood of them ends at the adapter's deadline).
            return Ok(Some(used));
        }
        let mut length: Option<usize> = None;
        let mut chunked = false;
        let mut encoded = false;
        let mut close = version == 0;
        self.headers.clear();
        for h in response.headers.iter() {
            // Latin-1 where the value is not UTF-8, as http.client read it.
            let value = std::str::from_utf8(h.value).map_or_else(
                |_| h.value.iter().map(|&b| char::from(b)).collect(),
                str::to_owned,
            );
            if h.name.eq_ignore_ascii_case("content-length") {
                let n = value
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|_| value.trim().bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| bad("a bad Content-Length"))?;
                if length.is_some_and(|l| l != n) {
                    return Err(bad("two different Content-Length values"));
                }
                length = Some(n);
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                encoded = true;
                chunked = value
                    .rsplit(',')
                    .next()
                    .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
            } else if h.name.eq_ignore_ascii_case("connection") {
                for option in value.split(',').map(str::trim) {
                    if option.eq_ignore_ascii_case("close") {
                        close = true;
                    } else if option.eq_ignore_ascii_case("keep-alive") && version == 0 {
                        close = false;
                    }
                }
            }
            self.headers.push((h.name.to_owned(), value));
        }
        self.status = status;
        self.keep_alive = !close;
        let no_body = self.method_has_no_body
            || status == 204
            || status == 304
            || status == 101
            || (self.connect && (200..300).contains(&status));
        self.state = if no_body {
            Body::Done
        } else if encoded && length.is_some() {
            return Err(bad("both Transfer-Encoding and Content-Length"));
        } else if chunked {
            Body::ChunkSize
        } else if encoded {
            self.keep_alive = false;
            Body::UntilClose
        } else if let Some(n) = length {
            if n > self.max_body {
                return Err(WireError::TooLarge);
            }
            self.body.reserve_exact(n);
            Body::Length(n)
        } else {
            self.keep_alive = false;
            Body::UntilClose
        };
        Ok(Some(used))
    }
}

fn bad(why: &str) -> WireError {
    WireError::BadResponse(why.to_owned())
}

fn find_crlf(data: &[u8]) -> Option<usize> {
    data.windows(2).take(1024 + 2).position(|w| w == b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes` in pieces of `step` and returns the response, or the error.
    fn read(method: &str, bytes: &[u8], step: usize, eof: bool) -> Result<WireResponse, WireError> {
        let mut r = ResponseReader::new(method, 1 << 20);
        let mut whole = false;
        for piece in bytes.chunks(step.max(1)) {
            whole = r.feed(piece)?;
        }
        if !whole {
            if !eof {
                return Err(WireError::Closed);
            }
            r.end()?;
        }
        Ok(r.take().expect("whole"))
    }

    fn every_split(method: &str, bytes: &[u8], eof: bool) -> WireResponse {
        let first = read(method, bytes, bytes.len(), eof).unwrap();
        for step in 1..bytes.len() {
            assert_eq!(
                read(method, bytes, step, eof).unwrap(),
                first,
                "in pieces of {step}"
            );
        }
        first
    }

    #[test]
    fn a_request_is_written_with_its_host_length_and_no_smuggled_lines() {
        let h = |n: &str, v: &str| (n.to_owned(), v.to_owned());
        let req = encode_request(
            "PUT",
            "/v2/app/manifests/v1?x=1",
            "registry:5000",
            &[h("Authorization", "Bearer t"), h("Content-Length", "99")],
            Some(b"{}"),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(req).unwrap(),
            "PUT /v2/app/manifests/v1?x=1 HTTP/1.1\r\nHost: registry:5000\r\nAuthorization: Bearer t\r\nAccept-Encoding: identity\r\nContent-Length: 2\r\n\r\n{}"
        );
        let post = encode_request("POST", "/token", "h", &[], None).unwrap();
        assert!(String::from_utf8(post)
            .unwrap()
            .ends_with("Content-Length: 0\r\n\r\n"));
        let get = encode_request("GET", "/", "h", &[h("Accept-Encoding", "gzip")], None).unwrap();
        let get = String::from_utf8(get).unwrap();
        assert!(
            !get.contains("identity") && !get.contains("Content-Length"),
            "{get}"
        );
        for (m, t, a, hs) in [
            ("GET", "/a\r\nX: y", "h", vec![]),
            ("GET", "/a b", "h", vec![]),
            ("GET", "/", "h\r\nX: y", vec![]),
            ("GET", "/", "h", vec![h("X", "a\r\nEvil: 1")]),
            ("GET", "/", "h", vec![h("Bad Name", "v")]),
            ("GET", "/", "h", vec![h("", "v")]),
            ("G ET", "/", "h", vec![]),
        ] {
            assert!(
                encode_request(m, t, a, &hs, None).is_err(),
                "{m} {t:?} {a:?} {hs:?}"
            );
        }
    }

    #[test]
    fn content_length_bodies_read_whole_in_any_pieces() {
        let r = every_split(
            "GET",
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"a\": true}",
            false,
        );
        assert_eq!(
            (r.status, &r.body[..], r.keep_alive),
            (200, &b"{\"a\": true}"[..], true)
        );
        assert_eq!(
            r.headers[0],
            ("Content-Type".into(), "application/json".into())
        );
    }

    #[test]
    fn chunked_bodies_are_joined_with_extensions_and_trailers() {
        let r = every_split(
            "GET",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: t\r\n\r\n",
            false,
        );
        assert_eq!(&r.body[..], b"Wikipedia in\r\n\r\nchunks.");
        assert!(r.keep_alive);
    }

    #[test]
    fn no_body_for_head_204_304_and_a_tunnel_and_interim_answers_are_skipped() {
        let r = every_split(
            "HEAD",
            b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n",
            false,
        );
        assert_eq!((r.status, r.body.len(), r.keep_alive), (200, 0, true));
        let r = every_split(
            "DELETE",
            b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n",
            false,
        );
        assert_eq!(r.status, 202);
        let r = every_split("GET", b"HTTP/1.1 304 Not Modified\r\n\r\n", false);
        assert_eq!(r.status, 304);
        let r = every_split(
            "CONNECT",
            b"HTTP/1.1 200 Connection established\r\n\r\n",
            false,
        );
        assert_eq!(r.status, 200);
        let r = every_split(
            "GET",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}",
            false,
        );
        assert_eq!((r.status, &r.body[..]), (404, &b"{}"[..]));
        assert_eq!(
            r.headers.len(),
            1,
            "the interim answers' headers are dropped"
        );
    }

    #[test]
    fn a_flood_of_interim_answers_is_read_without_growing() {
        let mut r = ResponseReader::new("GET", 1 << 20);
        for _ in 0..100_000 {
            assert_eq!(r.feed(b"HTTP/1.1 100 Continue\r\n\r\n"), Ok(false));
        }
        let mut flood = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(2000);
        flood.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(r.feed(&flood), Ok(true));
        assert_eq!(r.take().unwrap().status, 200);
    }

    #[test]
    fn a_body_without_length_ends_with_the_connection_which_is_then_not_reused() {
        let r = every_split("GET", b"HTTP/1.1 200 OK\r\n\r\nuntil the end", true);
        assert_eq!((&r.body[..], r.keep_alive), (&b"until the end"[..], false));
        let r = every_split(
            "GET",
            b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx",
            false,
        );
        assert!(!r.keep_alive, "HTTP/1.0 closes unless asked");
        let r = every_split(
            "GET",
            b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx",
            false,
        );
        assert!(r.keep_alive);
        let r = every_split(
            "GET",
            b"HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 1\r\n\r\nx",
            false,
        );
        assert!(!r.keep_alive);
    }

    #[test]
    fn every_doubt_is_an_error_naming_it() {
        let cases: [(&[u8], &str); 9] = [
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}extra",
                "bytes after",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
                "both",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
                "two different",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\n",
                "bad Content-Length",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\n",
                "bad Content-Length",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                "bad chunk size",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
                "does not end",
            ),
            (b"SSH-2.0-OpenSSH\r\n\r\n", "not a valid"),
            (b"HTTP/1.1 2000 OK\r\n\r\n", "not a valid"),
        ];
        for (bytes, says) in cases {
            let e = read("GET", bytes, bytes.len(), true).unwrap_err();
            assert_eq!(
                e.code(),
                "bad_response",
                "{}",
                String::from_utf8_lossy(bytes)
            );
            assert!(
                e.to_string().contains(says),
                "{e} for {}",
                String::from_utf8_lossy(bytes)
            );
        }
        let cut = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc";
        assert_eq!(read("GET", cut, 3, true).unwrap_err(), WireError::Closed);
        assert_eq!(
            read("GET", b"HTTP/1.1 200", 3, true).unwrap_err().code(),
            "reset"
        );
        let mut long = b"HTTP/1.1 200 OK\r\n".to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_HEAD + 10));
        assert!(read("GET", &long, 4096, true)
            .unwrap_err()
            .to_string()
            .contains("64 KiB"));
    }

    #[test]
    fn bodies_past_the_bound_are_refused_however_they_come() {
        let mut r = ResponseReader::new("GET", 4);
        assert_eq!(
            r.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"),
            Err(WireError::TooLarge)
        );
        let mut r = ResponseReader::new("GET", 4);
        assert_eq!(
            r.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\n"),
            Err(WireError::TooLarge)
        );
        let mut r = ResponseReader::new("GET", 4);
        assert_eq!(r.feed(b"HTTP/1.1 200 OK\r\n\r\nabc"), Ok(false));
        assert_eq!(r.feed(b"de"), Err(WireError::TooLarge));
    }
}
