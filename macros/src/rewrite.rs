//! Rewrites every `defer!` in the handler's body into a registration on the request's registry.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens as _};
use syn::spanned::Spanned as _;
use syn::visit_mut::{self, VisitMut};
use syn::{Expr, Item, Macro, Path, Stmt};

use crate::defer::{DeferForm, DeferInput};

/// Walks a handler body. Nested items (`fn`, `impl`, ..) are left alone: a `defer!` there is
/// not part of this handler and expands to the runtime's "outside `#[after_response]`" error.
pub struct Rewriter<'a> {
    registry: &'a Ident,
    krate: &'a Path,
    /// How many `defer!` were rewritten.
    pub found: usize,
}

impl<'a> Rewriter<'a> {
    pub fn new(registry: &'a Ident, krate: &'a Path) -> Self {
        Self {
            registry,
            krate,
            found: 0,
        }
    }

    /// `defer` itself, or `<runtime crate>::defer`: another crate's `defer!` (scopeguard's,
    /// say) called by its own path is left alone.
    fn is_defer(&self, mac: &Macro) -> bool {
        let segments = &mac.path.segments;
        let Some(last) = segments.last() else {
            return false;
        };
        if last.ident != "defer" || !last.arguments.is_none() {
            return false;
        }
        if segments.len() == 1 {
            return true;
        }
        let parent = &segments[segments.len() - 2].ident;
        parent == "after_response"
            || self
                .krate
                .segments
                .last()
                .is_some_and(|krate| &krate.ident == parent)
    }

    /// `path!(@__after_response <registration>)`: the user's own macro path stays in the
    /// output, so their `use after_response::defer` import is used and resolves as written.
    fn rewrite(&mut self, mac: &Macro) -> TokenStream {
        self.found += 1;
        let path = &mac.path;
        let span = mac.span();
        let registration = match mac.parse_body::<DeferInput>() {
            Ok(input) => self.registration(input, span),
            Err(error) => error.to_compile_error(),
        };
        quote_spanned!(span=> #path!(@__after_response #registration))
    }

    fn registration(&self, input: DeferInput, span: Span) -> TokenStream {
        let registry = self.registry;
        let call = match input.form {
            DeferForm::Completed(block) => {
                quote_spanned!(span=> #registry.defer(async move #block))
            }
            DeferForm::Always(closure) => {
                let param = &closure.inputs;
                let body = &closure.body;
                let attrs = &closure.attrs;
                quote_spanned!(span=> #registry.defer_always(#(#attrs)* move |#param| async move { #body }))
            }
        };
        match input.timeout {
            None => call,
            Some(timeout) => {
                let handle = Ident::new("after_response_handle", Span::mixed_site());
                quote_spanned!(span=> {
                    let #handle = #call;
                    #handle.set_timeout(#timeout);
                    #handle
                })
            }
        }
    }
}

impl VisitMut for Rewriter<'_> {
    fn visit_item_mut(&mut self, _nested: &mut Item) {}

    fn visit_stmt_mut(&mut self, stmt: &mut Stmt) {
        if let Stmt::Macro(statement) = stmt {
            if self.is_defer(&statement.mac) {
                // Statement position: the handle is discarded, whether or not a `;` follows.
                let mut tokens = quote!();
                for attr in &statement.attrs {
                    attr.to_tokens(&mut tokens);
                }
                tokens.extend(self.rewrite(&statement.mac));
                *stmt = Stmt::Expr(Expr::Verbatim(tokens), Some(Default::default()));
                return;
            }
        }
        visit_mut::visit_stmt_mut(self, stmt);
    }

    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        if let Expr::Macro(expression) = expr {
            if self.is_defer(&expression.mac) {
                // Expression position: evaluates to the block's `DeferHandle`.
                let mut tokens = quote!();
                for attr in &expression.attrs {
                    attr.to_tokens(&mut tokens);
                }
                tokens.extend(self.rewrite(&expression.mac));
                *expr = Expr::Verbatim(tokens);
                return;
            }
        }
        visit_mut::visit_expr_mut(self, expr);
    }
}
