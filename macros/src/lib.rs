//! The `#[after_response]` attribute. Use it through the `after-response` crate, which
//! re-exports it with `defer!` and holds the runtime it expands to.

mod args;
mod defer;
mod expand;
mod parse;
mod rewrite;

use proc_macro::TokenStream;

/// Rewrites an `async fn` axum handler so that the `defer!` blocks in its body run after its
/// response has been sent. The function then returns `axum::response::Response`.
///
/// Arguments: `#[after_response(crate = "path::to::after_response")]` when the runtime crate
/// is re-exported under another path.
#[proc_macro_attribute]
pub fn after_response(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::after_response(args.into(), item.into()).into()
}
