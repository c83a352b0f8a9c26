//! The axum side: turn a handler's output into a `Response` that carries its deferred blocks.
//!
//! Compiled only with the `axum` feature (on by default).

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http_body_util::combinators::UnsyncBoxBody;

use crate::Registry;

impl Registry {
    /// Converts `output` into a response and attaches the registered blocks to it; with no
    /// block registered the response is returned untouched (no wrapping, no allocation).
    ///
    /// This is what an `#[after_response]` handler returns through. Without axum, use
    /// [`Registry::attach`] on any `http::Response<B: http_body::Body>`.
    ///
    /// Available with the `axum` feature (on by default).
    #[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
    #[must_use = "the blocks fire when the returned response's body is dropped: dropping it now fires them now"]
    pub fn finish<R: IntoResponse>(self, output: R) -> Response {
        // Bound here rather than as `mut self`, which would show in the error a handler whose
        // return type is not a response gets (tests/ui/fail/return_type_not_into_response.rs).
        let mut registry = self;
        let response = output.into_response();
        if !registry.has_blocks() {
            return response;
        }
        // Boxed as axum boxes bodies, so that `Body::new` takes the box as it is instead of
        // wrapping it in an error-mapping layer (~100 instructions a response, one per call
        // the connection makes on the body); boxed where it is built, so that the wrapper is
        // not moved again inside a whole response.
        let (mut parts, body) = response.into_parts();
        let body = Body::new(UnsyncBoxBody::new(registry.wrap(&mut parts, body)));
        Response::from_parts(parts, body)
    }
}
