//! Paths the `#[after_response]` expansion uses. Not public API.

pub use crate::registry::Registry;
#[cfg(feature = "axum")]
pub use axum::response::Response;

/// The output of a handler without `defer!`, converted as axum would. A function rather
/// than a re-export of `IntoResponse`, so that errors name the trait by its axum path.
#[cfg(feature = "axum")]
pub fn into_response<R: axum::response::IntoResponse>(output: R) -> Response {
    output.into_response()
}

/// What each `defer!` becomes when `#[after_response]` rejected its function (and said
/// why): the block is still type-checked, nothing is registered, and the handle's methods
/// still resolve, so the attribute's error comes alone.
pub struct Inert;

impl Inert {
    pub fn cancel(&self) {}

    pub fn set_timeout(&self, _timeout: ::core::time::Duration) {}
}

pub fn inert<F: ::core::future::Future>(_block: F) -> Inert {
    Inert
}

pub fn inert_always<F, Fut>(_block: F) -> Inert
where
    F: FnOnce(crate::Outcome) -> Fut,
    Fut: ::core::future::Future,
{
    Inert
}
