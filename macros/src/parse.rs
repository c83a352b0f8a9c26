//! Reads the item the attribute is on, leniently: a body with a syntax error must still reach
//! the output, so that rustc reports that error (and only that one) and editors keep working.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser as _};
use syn::spanned::Spanned as _;
use syn::{Attribute, Item, Signature, TraitItemFn, Visibility};

/// A function whose body is kept as tokens: only its signature is parsed, so the body
/// reaches the output as written (a syntax error in it is rustc's own, and no parse of the
/// statements is paid for).
pub struct Function {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub sig: Signature,
    /// The body's inner attributes (`#![allow(..)]`), which must stay first in the new body.
    pub inner_attrs: TokenStream,
    /// The body's statements, as written.
    pub body: TokenStream,
    /// The span of the body's braces.
    pub body_span: Span,
}

pub enum Parsed {
    /// A function, with the reason it cannot be a handler, if any.
    Function(Box<Function>, Option<syn::Error>),
    /// Not a function, or one whose signature does not parse (then `None`: rustc reports it).
    Other(Option<syn::Error>),
}

/// Any function with a body: a free `fn`, or an associated `fn` in an `impl` block (which
/// parses the same way).
pub fn item(item: TokenStream) -> Parsed {
    let Ok(function) = function.parse2(item.clone()) else {
        return match syn::parse2::<TraitItemFn>(item.clone()) {
            // A declaration without a body (in a trait): nothing to rewrite.
            Ok(declaration) if declaration.default.is_none() => {
                Parsed::Other(Some(syn::Error::new(
                    declaration.sig.fn_token.span,
                    "`#[after_response]` needs the handler's body: put it on the `async fn` \
                     that has one (in the `impl` block), not on a declaration",
                )))
            }
            _ if has_fn_token(&item) => Parsed::Other(None),
            _ => Parsed::Other(Some(not_a_function(item))),
        };
    };
    let error = check(&function.sig);
    Parsed::Function(Box::new(function), error)
}

fn check(sig: &Signature) -> Option<syn::Error> {
    if let Some(constness) = &sig.constness {
        return Some(syn::Error::new(
            constness.span,
            "`#[after_response]` cannot be used on a `const fn`: remove `const`",
        ));
    }
    if sig.asyncness.is_none() {
        return Some(syn::Error::new(
            sig.fn_token.span(),
            "`#[after_response]` needs an `async fn`: axum handlers are async; write `async fn`",
        ));
    }
    if let Some(variadic) = &sig.variadic {
        return Some(syn::Error::new(
            variadic.span(),
            "`#[after_response]` cannot be used on a variadic function",
        ));
    }
    None
}

/// Attributes, visibility and signature that parse, then a `{ .. }` body kept as tokens.
fn function(input: ParseStream) -> syn::Result<Function> {
    let attrs = input.call(Attribute::parse_outer)?;
    let vis = input.parse()?;
    let sig = input.parse()?;
    let body;
    let braces = syn::braced!(body in input);
    let inner_attrs = body.call(Attribute::parse_inner)?;
    Ok(Function {
        attrs,
        vis,
        sig,
        inner_attrs: quote::quote!(#(#inner_attrs)*),
        body: body.parse()?,
        body_span: braces.span.join(),
    })
}

/// "not on a struct", on the item's keyword when the item parses.
fn not_a_function(item: TokenStream) -> syn::Error {
    let (what, span) = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Impl(item)) => {
            return syn::Error::new(
                item.impl_token.span,
                "`#[after_response]` goes on each `async fn` handler inside the `impl` block, \
                 not on the block itself",
            )
        }
        Ok(Item::Struct(item)) => ("a struct", item.struct_token.span),
        Ok(Item::Enum(item)) => ("an enum", item.enum_token.span),
        Ok(Item::Trait(item)) => ("a trait", item.trait_token.span),
        Ok(Item::Mod(item)) => ("a module", item.mod_token.span),
        Ok(Item::Const(item)) => ("a constant", item.const_token.span),
        Ok(Item::Static(item)) => ("a static", item.static_token.span),
        _ => (
            "this item",
            item.into_iter()
                .next()
                .map_or_else(Span::call_site, |token| token.span()),
        ),
    };
    syn::Error::new(
        span,
        format!(
            "`#[after_response]` goes on an `async fn` handler (free, or in an `impl` block), \
             not on {what}"
        ),
    )
}

/// A `fn` token at the top level: a function with a broken signature, whose syntax error
/// rustc reports better than "not a function" would.
fn has_fn_token(item: &TokenStream) -> bool {
    item.clone()
        .into_iter()
        .any(|token| matches!(token, TokenTree::Ident(ident) if ident == "fn"))
}
