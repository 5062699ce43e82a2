//! What a transport failure means: adapters name what failed in their own words (Node's and
//! undici's error codes, Python's exception names); the core reads them here, once.

use serde::Serialize;

/// What a transport failure (a response with status 0) was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportFailure {
    /// The host name does not resolve.
    Dns,
    /// The connection was refused.
    Refused,
    /// The TLS handshake or the certificate failed.
    Tls,
    /// No byte in time, or the request's deadline passed.
    Timeout,
    /// The connection was reset or closed before a whole response arrived.
    Reset,
    /// The response was larger than the adapter reads.
    TooLarge,
    /// Anything else.
    Other,
}

impl TransportFailure {
    /// Reads an adapter's error code: Node's and undici's (`ENOTFOUND`, `ECONNREFUSED`,
    /// `UND_ERR_SOCKET`, `CERT_HAS_EXPIRED`, …) or Python's exception names (`gaierror`,
    /// `ConnectionRefusedError`, `SSLCertVerificationError`, …), or the kinds' own names.
    pub fn classify(code: &str) -> TransportFailure {
        use TransportFailure as T;
        match code {
            "dns" | "ENOTFOUND" | "EAI_AGAIN" | "EAI_NONAME" | "EAI_FAIL" | "gaierror" => T::Dns,
            "refused" | "ECONNREFUSED" | "ConnectionRefusedError" => T::Refused,
            "timeout"
            | "ETIMEDOUT"
            | "TimeoutError"
            | "timeout_error"
            | "AbortError"
            | "UND_ERR_CONNECT_TIMEOUT"
            | "UND_ERR_HEADERS_TIMEOUT"
            | "UND_ERR_BODY_TIMEOUT" => T::Timeout,
            "reset"
            | "ECONNRESET"
            | "EPIPE"
            | "UND_ERR_SOCKET"
            | "UND_ERR_CLOSED"
            | "RemoteDisconnected"
            | "IncompleteRead"
            | "ConnectionResetError"
            | "BrokenPipeError"
            | "ConnectionAbortedError" => T::Reset,
            "too_large" | "UND_ERR_RES_EXCEEDED_MAX_SIZE" => T::TooLarge,
            c if c == "tls"
                || c.starts_with("ERR_TLS")
                || c.starts_with("ERR_SSL")
                || c.starts_with("CERT_")
                || c.starts_with("UNABLE_TO_")
                || c.contains("SELF_SIGNED")
                || c.starts_with("SSL") =>
            {
                T::Tls
            }
            _ => T::Other,
        }
    }

    /// For people.
    pub fn describe(self) -> &'static str {
        match self {
            TransportFailure::Dns => "the host name does not resolve",
            TransportFailure::Refused => "the connection was refused",
            TransportFailure::Tls => "the TLS handshake or certificate check failed",
            TransportFailure::Timeout => "no answer in time",
            TransportFailure::Reset => "the connection closed before a whole answer arrived",
            TransportFailure::TooLarge => "the answer was larger than regprune reads",
            TransportFailure::Other => "the request failed in transport",
        }
    }

    /// Failures that retrying cannot mend while nothing has answered yet.
    pub(crate) fn is_final(self) -> bool {
        matches!(
            self,
            TransportFailure::Dns | TransportFailure::Refused | TransportFailure::Tls
        )
    }
}

#[cfg(test)]
mod tests {
    use super::TransportFailure;

    #[test]
    fn transport_failures_of_both_adapters_mean_the_same() {
        use TransportFailure as T;
        for (code, kind) in [
            ("ENOTFOUND", T::Dns),
            ("gaierror", T::Dns),
            ("ECONNREFUSED", T::Refused),
            ("ConnectionRefusedError", T::Refused),
            ("CERT_HAS_EXPIRED", T::Tls),
            ("SSLCertVerificationError", T::Tls),
            ("UND_ERR_SOCKET", T::Reset),
            ("RemoteDisconnected", T::Reset),
            ("UND_ERR_HEADERS_TIMEOUT", T::Timeout),
            ("weird", T::Other),
        ] {
            assert_eq!(TransportFailure::classify(code), kind, "{code}");
        }
    }
}
