//! Checks the item the attribute is on: an `async fn` with a body.

use proc_macro2::TokenStream;
use syn::spanned::Spanned as _;
use syn::ItemFn;

/// Any function with a body: a free `fn`, or an associated `fn` in an `impl` block (which
/// parses the same way).
pub fn handler(item: TokenStream) -> syn::Result<ItemFn> {
    let function: ItemFn = syn::parse2(item.clone()).map_err(|_| {
        syn::Error::new_spanned(
            item,
            "`#[after_response]` goes on an `async fn` handler, not on this item",
        )
    })?;
    if function.sig.asyncness.is_none() {
        return Err(syn::Error::new(
            function.sig.fn_token.span(),
            "`#[after_response]` needs an `async fn`: axum handlers are async; add `async`",
        ));
    }
    if let Some(constness) = &function.sig.constness {
        return Err(syn::Error::new(
            constness.span,
            "`#[after_response]` cannot be used on a `const fn`",
        ));
    }
    if let Some(variadic) = &function.sig.variadic {
        return Err(syn::Error::new(
            variadic.span(),
            "`#[after_response]` cannot be used on a variadic function",
        ));
    }
    Ok(function)
}
