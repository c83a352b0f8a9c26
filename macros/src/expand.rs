//! Builds the rewritten handler.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::visit_mut::VisitMut;
use syn::{AttrStyle, ItemFn, ReturnType, Type};

use crate::rewrite::Rewriter;
use crate::{args, parse};

pub fn after_response(args: TokenStream, item: TokenStream) -> TokenStream {
    let args = match args::parse(args) {
        Ok(args) => args,
        Err(error) => return with_error(item, &error),
    };
    match parse::handler(item.clone()) {
        Ok(function) => expand(&args, function),
        Err(error) => with_error(item, &error),
    }
}

/// The error plus the user's item unchanged, so the rest of the crate (and the editor) still
/// sees the function (tokio-macros' approach).
fn with_error(item: TokenStream, error: &syn::Error) -> TokenStream {
    let mut tokens = error.to_compile_error();
    tokens.extend(item);
    tokens
}

fn expand(args: &args::Args, mut function: ItemFn) -> TokenStream {
    let krate = &args.krate;
    let registry = Ident::new("after_response_registry", Span::mixed_site());
    let output = Ident::new("after_response_output", Span::mixed_site());

    let mut rewriter = Rewriter::new(&registry, krate);
    rewriter.visit_block_mut(&mut function.block);
    let registers_blocks = rewriter.found > 0;

    let (return_type, return_span) = match &function.sig.output {
        ReturnType::Default => (quote!(()), function.sig.paren_token.span.close()),
        ReturnType::Type(_, ty) => (erase_impl_trait(ty), ty.span()),
    };
    // Fixes the body's type from the declared return type before the body is checked, so `?`,
    // `return` and `.into()` infer exactly as in the original function (tracing-attributes'
    // trick). An `impl Trait` return becomes `_`.
    let fake_return = quote_spanned! {return_span=>
        #[allow(
            unknown_lints,
            unreachable_code,
            clippy::diverging_sub_expression,
            clippy::empty_loop,
            clippy::let_unit_value,
            clippy::let_with_type_underscore,
            clippy::needless_return,
            clippy::unreachable
        )]
        if false {
            let after_response_fake_return: #return_type = loop {};
            return after_response_fake_return;
        }
    };
    let inner_attrs: Vec<_> = function
        .attrs
        .iter()
        .filter(|attr| matches!(attr.style, AttrStyle::Inner(_)))
        .cloned()
        .collect();
    function
        .attrs
        .retain(|attr| matches!(attr.style, AttrStyle::Outer));
    let stmts = &function.block.stmts;
    let body = quote!(async move { #fake_return { #(#stmts)* } });
    let name = function.sig.ident.to_string();

    let new_body = if registers_blocks {
        let finish = quote_spanned!(return_span=> #registry.finish(#output));
        quote! {{
            #(#inner_attrs)*
            let #registry = #krate::__private::Registry::new(
                ::core::concat!(::core::module_path!(), "::", #name),
            );
            let #output = {
                let #registry = &#registry;
                #body.await
            };
            #finish
        }}
    } else {
        let finish =
            quote_spanned!(return_span=> #krate::__private::IntoResponse::into_response(#output));
        quote! {{
            #(#inner_attrs)*
            let #output = #body.await;
            #finish
        }}
    };
    let arrow = match &function.sig.output {
        ReturnType::Type(arrow, _) => *arrow,
        ReturnType::Default => Default::default(),
    };
    function.sig.output = ReturnType::Type(
        arrow,
        Box::new(syn::parse_quote_spanned!(return_span=> #krate::__private::Response)),
    );
    function.block = Box::new(syn::parse_quote!(#new_body));
    quote!(#function)
}

fn erase_impl_trait(ty: &Type) -> TokenStream {
    struct ImplTraitEraser;
    impl VisitMut for ImplTraitEraser {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(impl_trait) = ty {
                *ty = Type::Infer(syn::TypeInfer {
                    underscore_token: syn::Token![_](impl_trait.span()),
                });
            } else {
                syn::visit_mut::visit_type_mut(self, ty);
            }
        }
    }
    let mut ty = ty.clone();
    ImplTraitEraser.visit_type_mut(&mut ty);
    quote!(#ty)
}
