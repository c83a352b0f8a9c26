//! The declared return type, kept for type inference: the rewritten function returns
//! `Response`, but its body must still be checked against what the user wrote.

use std::collections::HashSet;

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned, ToTokens as _};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned as _;
use syn::visit_mut::VisitMut;
use syn::{GenericParam, Generics, PathArguments, ReturnType, Signature, Type, TypeParamBound};

/// The declared return type, or the `)` closing the arguments when there is none.
pub fn return_span_of(sig: &Signature) -> Span {
    match &sig.output {
        ReturnType::Default => sig.paren_token.span.close(),
        ReturnType::Type(_, ty) => ty.span(),
    }
}

/// Fixes the body's type from the declared return type before the body is checked, so `?`,
/// `return` and `.into()` infer exactly as in the original function (tracing-attributes'
/// fake return). An `impl Trait` becomes `_`; its bounds are then required of that `_` by a
/// generic function that takes the value, so `impl Stream<Item = Result<Event, Infallible>>`
/// still tells `Ok` its error type, and what the bounds name stays used. (tracing-attributes
/// needs no such function: it keeps the function's own `impl Trait` return type.)
pub fn fake_return(sig: &Signature, span: Span) -> TokenStream {
    let fake = Ident::new(
        "after_response_fake_return",
        Span::mixed_site().located_at(span),
    );
    let ReturnType::Type(_, declared) = &sig.output else {
        return edge(&quote!(), &quote_spanned!(span=> ()), &fake, &quote!());
    };
    let mut erased_type = (**declared).clone();
    let mut impl_traits = Eraser::default();
    impl_traits.visit_type_mut(&mut erased_type);
    let erased = quote_spanned!(span=> #erased_type);
    if impl_traits.bounds.is_empty() {
        return edge(&quote!(), &erased, &fake, &quote!());
    }
    if let Some((item, call)) = bounds_check(sig, declared, &fake, span) {
        return edge(&item, &erased, &fake, &call);
    }
    // The bounds name `Self` or an elided lifetime, which a nested function cannot: `_` alone,
    // and `use Trait as _;` so that an import used only there stays used.
    let traits = impl_traits.traits();
    let uses = quote! {#(
        #[allow(unused_imports, clippy::single_component_path_imports)]
        use #traits as _;
    )*};
    edge(&uses, &erased, &fake, &quote!())
}

fn edge(items: &TokenStream, ty: &TokenStream, fake: &Ident, call: &TokenStream) -> TokenStream {
    quote! {
        #[allow(
            unknown_lints,
            unreachable_code,
            unused_variables,
            clippy::diverging_sub_expression,
            clippy::empty_loop,
            clippy::let_unit_value,
            clippy::let_with_type_underscore,
            clippy::needless_return,
            clippy::unreachable
        )]
        if false {
            #items
            let #fake: #ty = loop {};
            #call
            return #fake;
        }
    }
}

/// `fn declared_return_type<.., ImplTrait0: Bounds0>(_: &Declared[ImplTrait0]) {}` and its call on
/// the fake return value. The handler's generics are copied when the bounds use them.
fn bounds_check(
    sig: &Signature,
    declared: &Type,
    fake: &Ident,
    span: Span,
) -> Option<(TokenStream, TokenStream)> {
    let mut generic = declared.clone();
    let mut namer = Namer::default();
    namer.visit_type_mut(&mut generic);
    let bounds_tokens: TokenStream = namer.params.iter().map(|(_, b)| b.clone()).collect();
    if mentions_self_or_elided(&bounds_tokens) {
        return None;
    }
    let outer = outer_params(&sig.generics);
    let used = idents(&bounds_tokens);
    let copy = outer.iter().any(|name| used.contains(name));
    let (outer_params, outer_args, where_clause) = if copy {
        let generics = &sig.generics;
        if mentions_self_or_elided(&generics.to_token_stream()) {
            return None;
        }
        let params = generics.params.iter();
        let args = generics.params.iter().filter_map(|param| match param {
            GenericParam::Type(ty) => Some(ty.ident.to_token_stream()),
            GenericParam::Const(constant) => Some(constant.ident.to_token_stream()),
            GenericParam::Lifetime(_) => None,
        });
        (
            quote!(#(#params,)*),
            quote!(#(#args,)*),
            generics.where_clause.to_token_stream(),
        )
    } else {
        (quote!(), quote!(), quote!())
    };
    let check = Ident::new("declared_return_type", span);
    let impl_params = namer
        .params
        .iter()
        .map(|(name, bounds)| quote!(#name: #bounds));
    let infer = namer.params.iter().map(|_| quote!(_));
    let item = quote_spanned! {span=>
        #[allow(
            clippy::extra_unused_type_parameters,
            clippy::multiple_bound_locations,
            clippy::trivially_copy_pass_by_ref
        )]
        fn #check<#outer_params #(#impl_params),*>(_: &#generic) #where_clause {}
    };
    let call = quote_spanned!(span=> #check::<#outer_args #(#infer),*>(&#fake););
    Some((item, call))
}

/// Each `impl Bounds` becomes `_`; the traits are kept for `use Trait as _;`.
#[derive(Default)]
struct Eraser {
    bounds: Vec<Punctuated<TypeParamBound, syn::Token![+]>>,
}

impl Eraser {
    /// The trait paths of the bounds, without generic arguments (`Into<T>` becomes `Into`).
    fn traits(&self) -> Vec<syn::Path> {
        let mut traits = Vec::new();
        for bound in self.bounds.iter().flatten() {
            let TypeParamBound::Trait(bound) = bound else {
                continue;
            };
            let mut path = bound.path.clone();
            if path.leading_colon.is_none()
                && path
                    .segments
                    .first()
                    .is_some_and(|first| first.ident == "Self")
            {
                continue;
            }
            for segment in &mut path.segments {
                segment.arguments = PathArguments::None;
            }
            traits.push(path);
        }
        traits
    }
}

impl VisitMut for Eraser {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        let Type::ImplTrait(impl_trait) = ty else {
            syn::visit_mut::visit_type_mut(self, ty);
            return;
        };
        self.bounds.push(impl_trait.bounds.clone());
        *ty = Type::Infer(syn::TypeInfer {
            underscore_token: syn::Token![_](impl_trait.span()),
        });
    }
}

/// Each `impl Bounds` becomes a type parameter `ImplTraitN`, recorded with its bounds
/// (in which a nested `impl` is named the same way); `use<..>` bounds are dropped.
#[derive(Default)]
struct Namer {
    params: Vec<(Ident, TokenStream)>,
}

impl VisitMut for Namer {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        let Type::ImplTrait(impl_trait) = ty else {
            syn::visit_mut::visit_type_mut(self, ty);
            return;
        };
        let name = format_ident!("ImplTrait{}", self.params.len());
        let index = self.params.len();
        self.params.push((name.clone(), TokenStream::new()));
        let mut kept: Punctuated<TypeParamBound, syn::Token![+]> = Punctuated::new();
        for mut bound in impl_trait.bounds.clone() {
            match &mut bound {
                TypeParamBound::Trait(trait_bound) => self.visit_trait_bound_mut(trait_bound),
                TypeParamBound::Lifetime(_) => {}
                _ => continue,
            }
            kept.push(bound);
        }
        self.params[index].1 = kept.to_token_stream();
        *ty = syn::parse_quote!(#name);
    }
}

fn outer_params(generics: &Generics) -> Vec<String> {
    generics
        .params
        .iter()
        .map(|param| match param {
            GenericParam::Type(ty) => ty.ident.to_string(),
            GenericParam::Const(constant) => constant.ident.to_string(),
            GenericParam::Lifetime(lifetime) => lifetime.lifetime.ident.to_string(),
        })
        .collect()
}

fn idents(tokens: &TokenStream) -> HashSet<String> {
    let mut found = HashSet::new();
    for token in tokens.clone() {
        match token {
            TokenTree::Ident(ident) => {
                found.insert(ident.to_string());
            }
            TokenTree::Group(group) => found.extend(idents(&group.stream())),
            _ => {}
        }
    }
    found
}

/// `Self`, `'_` or a `&` (whose lifetime may be elided): a nested function cannot name them.
fn mentions_self_or_elided(tokens: &TokenStream) -> bool {
    let mut previous_quote = false;
    for token in tokens.clone() {
        let found = match &token {
            TokenTree::Ident(ident) => ident == "Self" || previous_quote && ident == "_",
            TokenTree::Punct(p) => p.as_char() == '&',
            TokenTree::Group(group) => mentions_self_or_elided(&group.stream()),
            TokenTree::Literal(_) => false,
        };
        if found {
            return true;
        }
        previous_quote = matches!(&token, TokenTree::Punct(p) if p.as_char() == '\'');
    }
    false
}
