//! What one `defer!` becomes: a registration on the request's registry, or, when the attribute
//! was rejected, an inert expression that still type-checks the block (no error cascade).

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote_spanned;
use syn::Path;

use crate::defer::{self, DeferForm};

/// Where the blocks go.
#[derive(Clone, Copy)]
pub enum Mode<'a> {
    /// Onto the registry bound to this (mixed-site) identifier.
    Live(&'a Ident),
    /// Nowhere: the attribute reported an error of its own.
    Disabled,
}

/// Builds registrations for the finder (`tokens`), live or inert.
pub struct Registrar<'a> {
    pub mode: Mode<'a>,
    pub krate: &'a Path,
    /// How many `defer!` were rewritten.
    pub found: usize,
    /// How many of them register on the registry (the others are rejected or inert).
    pub live: usize,
    /// How many of the live ones are the always-form, the one that reads the elapsed time.
    pub live_always: usize,
}

impl<'a> Registrar<'a> {
    pub fn new(mode: Mode<'a>, krate: &'a Path) -> Self {
        Self {
            mode,
            krate,
            found: 0,
            live: 0,
            live_always: 0,
        }
    }

    /// `true` for `defer` itself, or for `<parent>::defer` where the parent is `after_response`
    /// or the last segment of `crate = ".."`: another crate's `defer!` (scopeguard's, say)
    /// called by its own path is left alone.
    pub fn is_defer_path(&self, parent: Option<&Ident>, last: &Ident) -> bool {
        if last != "defer" {
            return false;
        }
        match parent {
            None => true,
            Some(parent) => {
                parent == "after_response"
                    || self
                        .krate
                        .segments
                        .last()
                        .is_some_and(|krate| &krate.ident == parent)
            }
        }
    }

    /// The expression one `defer!` stands for, or the error in its contents. `span` is the
    /// `defer!` invocation's, so type errors about the block land on it. With `rejected`, the
    /// error comes first and the block is type-checked without being registered.
    pub fn registration(
        &mut self,
        contents: TokenStream,
        span: Span,
        rejected: Option<syn::Error>,
    ) -> TokenStream {
        self.found += 1;
        let input = match defer::parse(contents, span) {
            Ok(input) => input,
            Err(error) => return error.to_compile_error(),
        };
        let krate = self.krate;
        // Live: register on the request's registry. Disabled (the attribute was rejected) or
        // rejected here: type-check the block the same way, register nothing.
        let live = match (self.mode, &rejected) {
            (Mode::Live(registry), None) => Some(registry),
            _ => None,
        };
        let (on_completed, always) = match live {
            Some(registry) => {
                self.live += 1;
                // The registry's hygiene, the `defer!`'s location: errors about the call land
                // on it.
                let mut registry = registry.clone();
                registry.set_span(registry.span().located_at(span));
                (
                    quote_spanned!(span=> #registry.defer),
                    quote_spanned!(span=> #registry.defer_always),
                )
            }
            None => (
                quote_spanned!(span=> #krate::__private::inert),
                quote_spanned!(span=> #krate::__private::inert_always),
            ),
        };
        let call = match input.form {
            DeferForm::Completed(stmts) => {
                quote_spanned!(span=> #on_completed(async move { #stmts }))
            }
            DeferForm::Always { attrs, param, body } => {
                if live.is_some() {
                    self.live_always += 1;
                }
                quote_spanned! {span=>
                    #always(#attrs move |#param| async move { #body })
                }
            }
        };
        let registration = match input.timeout {
            None => call,
            Some(timeout) => {
                let handle = Ident::new("after_response_handle", Span::mixed_site());
                quote_spanned! {span=> {
                    let #handle = #call;
                    #handle.set_timeout(#timeout);
                    #handle
                }}
            }
        };
        match rejected {
            None => registration,
            Some(error) => {
                let error = error.to_compile_error();
                quote_spanned!(span=> { #error; #registration })
            }
        }
    }
}
