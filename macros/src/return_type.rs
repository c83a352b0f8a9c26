//! The declared return type, kept for type inference: the rewritten function returns
//! `Response`, but its body must still be checked against what the user wrote.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote_spanned;
use syn::spanned::Spanned as _;
use syn::visit_mut::VisitMut;
use syn::{PathArguments, ReturnType, Signature, Type, TypeParamBound};

/// The declared return type, or the `)` closing the arguments when there is none.
pub fn return_span_of(sig: &Signature) -> Span {
    match &sig.output {
        ReturnType::Default => sig.paren_token.span.close(),
        ReturnType::Type(_, ty) => ty.span(),
    }
}

/// Fixes the body's type from the declared return type before the body is checked, so `?`,
/// `return` and `.into()` infer exactly as in the original function (tracing-attributes'
/// trick). An `impl Trait` becomes `_`, and its traits are named by `use Trait as _;`, so that
/// an import used only there stays used. The body sits in a block of its own after this one,
/// so its items (`use`, `type Result = ..`) cannot change what the return type names.
pub fn fake_return(output: &ReturnType, span: Span) -> TokenStream {
    let (ty, traits) = match output {
        ReturnType::Default => (quote_spanned!(span=> ()), Vec::new()),
        ReturnType::Type(_, ty) => {
            let mut ty = (**ty).clone();
            let mut eraser = ImplTraitEraser { traits: Vec::new() };
            eraser.visit_type_mut(&mut ty);
            (quote_spanned!(span=> #ty), eraser.traits)
        }
    };
    let fake = Ident::new(
        "after_response_fake_return",
        Span::mixed_site().located_at(span),
    );
    quote_spanned! {span=>
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
            #(
                #[allow(unused_imports, clippy::single_component_path_imports)]
                use #traits as _;
            )*
            let #fake: #ty = loop {};
            return #fake;
        }
    }
}

/// Replaces each `impl Trait` with `_` and collects its trait paths, without generic
/// arguments (`Into<T>` becomes `Into`). Paths that start with `Self` cannot be imported and
/// are left out.
struct ImplTraitEraser {
    traits: Vec<syn::Path>,
}

impl VisitMut for ImplTraitEraser {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        let Type::ImplTrait(impl_trait) = ty else {
            syn::visit_mut::visit_type_mut(self, ty);
            return;
        };
        for bound in &impl_trait.bounds {
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
            self.traits.push(path);
        }
        *ty = Type::Infer(syn::TypeInfer {
            underscore_token: syn::Token![_](impl_trait.span()),
        });
    }
}
