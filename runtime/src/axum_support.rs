//! The axum side: turn a handler's output into a `Response` that carries its deferred blocks.

use axum::body::Body;
use axum::response::{IntoResponse, Response};

use crate::Registry;

impl Registry {
    /// Converts `output` into a response and attaches the registered blocks to it; with no
    /// block registered the response is returned untouched (no wrapping, no allocation).
    pub fn finish<R: IntoResponse>(self, output: R) -> Response {
        let response = output.into_response();
        if self.is_empty() {
            return response;
        }
        self.attach(response).map(Body::new)
    }
}
