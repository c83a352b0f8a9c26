//! Order with `#[tracing::instrument]`: below `#[after_response]` it would expand second and
//! see the rewritten signature (`-> Response`), so that `err` and `ret` would no longer see the
//! handler's `Result` or value. It is moved above instead, and the attribute is applied again
//! under it: both orders then expand the same way.

use proc_macro2::{Delimiter, Group, TokenStream};
use quote::quote;
use syn::{Attribute, Path};

use crate::parse::Function;

/// The item with its `#[instrument]` attributes first and `#[after_response]` again under
/// them, or `None` when there is none below this attribute.
pub fn hoist_instrument(
    function: &Function,
    args: &TokenStream,
    krate: &Path,
) -> Option<TokenStream> {
    let (instrument, others): (Vec<&Attribute>, Vec<&Attribute>) =
        function.attrs.iter().partition(|attr| {
            attr.path()
                .segments
                .last()
                .is_some_and(|last| last.ident == "instrument")
        });
    if instrument.is_empty() {
        return None;
    }
    let Function {
        vis,
        sig,
        inner_attrs,
        body,
        body_span,
        ..
    } = function;
    let mut braces = Group::new(Delimiter::Brace, quote!(#inner_attrs #body));
    braces.set_span(*body_span);
    let args = if args.is_empty() {
        quote!()
    } else {
        quote!((#args))
    };
    Some(quote! {
        #(#instrument)*
        #[#krate::after_response #args]
        #(#others)*
        #vis #sig #braces
    })
}
