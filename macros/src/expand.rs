//! Builds the output: the rewritten handler, or the error plus the user's item with its
//! `defer!` made inert.

use proc_macro2::{Delimiter, Ident, Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens as _};
use syn::token::RArrow;
use syn::{Path, ReturnType};

use crate::parse::{Function, Parsed};
use crate::register::{Mode, Registrar};
use crate::return_type::{self, return_span_of};
use crate::tokens::Finder;
use crate::{args, order, parse};

pub fn after_response(args: &TokenStream, item: TokenStream) -> TokenStream {
    let (krate, args_error) = match args::parse(args.clone()) {
        Ok(parsed) => (parsed.krate, None),
        Err(error) => (syn::parse_quote!(::after_response), Some(error)),
    };
    match parse::item(item.clone()) {
        Parsed::Other(error) => {
            // Not a function: the error, then the item as written (tokio-macros' approach), but
            // for the `defer!` in an `impl` block's functions, made inert.
            let mut out = errors([args_error, error]);
            match syn::parse2::<syn::ItemImpl>(item.clone()) {
                Ok(mut block) => {
                    let mut registrar = Registrar::new(Mode::Disabled, &krate);
                    for inner in &mut block.items {
                        // A function with an `#[after_response]` of its own is rewritten by it.
                        if let syn::ImplItem::Fn(function) = inner {
                            let own = function.attrs.iter().any(|attr| {
                                attr.path()
                                    .segments
                                    .last()
                                    .is_some_and(|last| last.ident == "after_response")
                            });
                            if !own {
                                let stmts = &function.block.stmts;
                                let tokens = Finder::new(&mut registrar)
                                    .rewrite(quote!(#(#stmts)*), Delimiter::Brace);
                                function.block.stmts =
                                    vec![syn::Stmt::Expr(syn::Expr::Verbatim(tokens), None)];
                            }
                        }
                    }
                    block.to_tokens(&mut out);
                }
                Err(_) => out.extend(item),
            }
            out
        }
        Parsed::Function(function, error) => {
            if args_error.is_none() && error.is_none() {
                if let Some(hoisted) = order::hoist_instrument(&function, args, &krate) {
                    return hoisted;
                }
                return expand(*function, &krate);
            }
            let mut out = errors([args_error, error]);
            out.extend(inert(*function, &krate));
            out
        }
    }
}

fn errors(errors: [Option<syn::Error>; 2]) -> TokenStream {
    errors
        .into_iter()
        .flatten()
        .map(|error| error.to_compile_error())
        .collect()
}

/// The user's function unchanged but for its `defer!`, which evaluate to an inert handle after
/// type-checking their blocks: no "`defer!` outside" cascade after the attribute's own error,
/// no unused-variable warnings for what the blocks capture.
fn inert(function: Function, krate: &Path) -> TokenStream {
    let Function {
        attrs,
        vis,
        sig,
        inner_attrs,
        body,
        body_span,
    } = function;
    let mut registrar = Registrar::new(Mode::Disabled, krate);
    let stmts = Finder::new(&mut registrar).rewrite(body, Delimiter::Brace);
    let body = quote_spanned!(body_span=> { #inner_attrs #stmts });
    quote!(#(#attrs)* #vis #sig #body)
}

/// Items among the body's own statements (`use`, `type Result = ..`, `fn`): the body then
/// keeps a block of its own, so that they cannot change what the fake return's type names.
/// Without them the statements go straight into the generated `async move` (a block around
/// one expression would be reported as `unused_braces`).
fn declares_items(body: &TokenStream) -> bool {
    const ITEMS: [&str; 12] = [
        "use",
        "type",
        "fn",
        "struct",
        "enum",
        "union",
        "trait",
        "impl",
        "mod",
        "static",
        "const",
        "macro_rules",
    ];
    body.clone().into_iter().any(
        |token| matches!(&token, TokenTree::Ident(ident) if ITEMS.iter().any(|item| ident == item)),
    )
}

fn expand(function: Function, krate: &Path) -> TokenStream {
    let Function {
        attrs,
        vis,
        mut sig,
        inner_attrs,
        body,
        body_span,
    } = function;
    let registry = Ident::new("after_response_registry", Span::mixed_site());
    // The one generated local with the user's span (their return type's): rustc then reports a
    // return type that is not `IntoResponse` on that type, not on the attribute. It is bound
    // after the body has run, so no user code can see it.
    let output = Ident::new("after_response_output", return_span_of(&sig));

    let mut registrar = Registrar::new(Mode::Live(&registry), krate);
    let keeps_block = declares_items(&body);
    let stmts = Finder::new(&mut registrar).rewrite(body, Delimiter::Brace);
    let registers_blocks = registrar.live > 0;
    // Only the always-form reads `Outcome::elapsed`: without one the registry reads no clock.
    let constructor = if registrar.live_always > 0 {
        Ident::new("new", Span::call_site())
    } else {
        Ident::new("untimed", Span::call_site())
    };

    let return_span = return_span_of(&sig);
    let fake_return = return_type::fake_return(&sig, return_span);
    let stmts = if keeps_block {
        quote_spanned!(body_span=> { #stmts })
    } else {
        stmts
    };
    let body = quote_spanned!(body_span=> async move { #fake_return #stmts });
    let await_token = quote_spanned!(body_span=> await);
    let name = sig.ident.to_string();

    let new_body = if registers_blocks {
        let finish = {
            let registry = located(&registry, return_span);
            quote_spanned!(return_span=> #registry.finish(#output))
        };
        quote! {{
            #inner_attrs
            let #registry = #krate::__private::Registry::#constructor(
                ::core::concat!(::core::module_path!(), "::", #name),
            );
            let #output = {
                // Borrowed, not owned, by the body: a `defer!` moved into a spawned task (which
                // could register after the response left) does not compile.
                let #registry = &#registry;
                #body.#await_token
            };
            #finish
        }}
    } else {
        let finish = quote_spanned!(return_span=> #krate::__private::into_response(#output));
        quote! {{
            #inner_attrs
            let #output = #body.#await_token;
            #finish
        }}
    };
    let arrow = match &sig.output {
        ReturnType::Type(arrow, _) => *arrow,
        ReturnType::Default => RArrow::default(),
    };
    sig.output = ReturnType::Type(
        arrow,
        Box::new(syn::parse_quote_spanned!(return_span=> #krate::__private::Response)),
    );
    let mut out = quote!(#(#attrs)* #vis);
    sig.to_tokens(&mut out);
    out.extend(new_body);
    out
}

/// `ident`'s hygiene at `span`'s location.
fn located(ident: &Ident, span: Span) -> Ident {
    let mut ident = ident.clone();
    ident.set_span(ident.span().located_at(span));
    ident
}
