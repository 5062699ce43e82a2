//! HTTP/1.1 on the wire for the Python adapter's sockets (`regprune_core::http::wire`).

use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use regprune_core::http::wire;

/// The bytes of one request (`Host` is `authority`); a line break or control character in
/// any part raises `ValueError`.
#[pyfunction]
#[pyo3(signature = (method, target, authority, headers, body=None))]
#[allow(clippy::needless_pass_by_value)] // PyO3 hands a list over as an owned Vec
pub fn encode_request<'py>(
    py: Python<'py>,
    method: &str,
    target: &str,
    authority: &str,
    headers: Vec<(String, String)>,
    body: Option<&[u8]>,
) -> PyResult<Bound<'py, PyBytes>> {
    let bytes = wire::encode_request(method, target, authority, &headers, body)
        .map_err(|e| PyValueError::new_err(e.0))?;
    Ok(PyBytes::new(py, &bytes))
}

pyo3::create_exception!(
    regprune._native,
    ResponseError,
    PyException,
    "A response that cannot be read: `args` are the failure code for the core (`bad_response`, `too_large`, `reset`) and the detail."
);

/// Reads one response from the bytes fed to it. `feed`, `end` and `take` raise
/// `ResponseError` when the response cannot be read.
#[pyclass(module = "regprune._native")]
pub struct ResponseReader {
    inner: wire::ResponseReader,
}

#[pymethods]
impl ResponseReader {
    #[new]
    fn new(method: &str, max_body: usize) -> Self {
        ResponseReader {
            inner: wire::ResponseReader::new(method, max_body),
        }
    }

    /// Takes the next bytes from the connection; True once the response is whole.
    fn feed(&mut self, data: &[u8]) -> PyResult<bool> {
        self.inner.feed(data).map_err(|e| failure(&e))
    }

    /// The connection closed: returns when that ends the response, raises otherwise.
    fn end(&mut self) -> PyResult<()> {
        self.inner.end().map_err(|e| failure(&e))
    }

    /// The whole response: `(status, headers, body, keep_alive)`.
    fn take<'py>(&mut self, py: Python<'py>) -> PyResult<WireResponse<'py>> {
        let r = self
            .inner
            .take()
            .ok_or_else(|| ResponseError::new_err(("reset", "the response is not whole")))?;
        Ok((r.status, r.headers, PyBytes::new(py, &r.body), r.keep_alive))
    }
}

type WireResponse<'py> = (u16, Vec<(String, String)>, Bound<'py, PyBytes>, bool);

fn failure(e: &wire::WireError) -> PyErr {
    ResponseError::new_err((e.code(), e.to_string()))
}
