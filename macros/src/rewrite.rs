//! Rewrites every `defer!` in a parsed handler body into a registration (see `register`).

use proc_macro2::{Delimiter, TokenStream};
use quote::{quote, quote_spanned, ToTokens as _};
use syn::spanned::Spanned as _;
use syn::token::Semi;
use syn::visit_mut::{self, VisitMut};
use syn::{Attribute, Expr, Item, Macro, MacroDelimiter, Stmt};

use crate::defer::DeferInput;
use crate::register::{Mode, Registrar};
use crate::tokens;

/// Walks a handler body. Nested items (`fn`, `impl`, ..) are left alone: a `defer!` there is
/// not part of this handler and expands to the runtime's "outside `#[after_response]`" error.
/// Other macros' tokens (`tokio::select!`, `vec!`, ..) are rewritten token by token.
pub struct Rewriter<'r, 'a> {
    registrar: &'r mut Registrar<'a>,
    /// Inside the arguments of this `spawn`-like call.
    spawn: Option<String>,
}

/// Free functions that run their argument on another task or thread, possibly after the
/// response has left. (Method calls such as `JoinSet::spawn` are left to the borrow checker:
/// `std::thread::Scope::spawn` may borrow.)
const SPAWNS: [&str; 3] = ["spawn", "spawn_blocking", "spawn_local"];

impl<'r, 'a> Rewriter<'r, 'a> {
    pub fn new(registrar: &'r mut Registrar<'a>) -> Self {
        Self {
            registrar,
            spawn: None,
        }
    }

    /// `tokio::spawn`, `std::thread::spawn`, `task::spawn_blocking`, ..: the callee as written.
    fn spawn_callee(call: &syn::ExprCall) -> Option<String> {
        let Expr::Path(path) = &*call.func else {
            return None;
        };
        let last = path.path.segments.last()?;
        SPAWNS.iter().any(|spawn| last.ident == spawn).then(|| {
            let segments: Vec<String> = path
                .path
                .segments
                .iter()
                .map(|segment| segment.ident.to_string())
                .collect();
            segments.join("::")
        })
    }

    fn is_defer(&self, mac: &Macro) -> bool {
        let segments = &mac.path.segments;
        let Some(last) = segments.last() else {
            return false;
        };
        if !last.arguments.is_none() || mac.path.leading_colon.is_some() && segments.len() == 1 {
            return false;
        }
        let parent = segments.len().checked_sub(2).map(|i| &segments[i].ident);
        self.registrar.is_defer_path(parent, &last.ident)
    }

    /// `path!(@__after_response <registration>)`: the user's own macro path stays in the
    /// output, so their `use after_response::defer` import is used and resolves as written.
    fn rewrite(&mut self, attrs: &[Attribute], mac: &Macro) -> TokenStream {
        let path = &mac.path;
        let span = mac.span();
        let registration = match (&self.spawn, self.registrar.mode) {
            (Some(callee), Mode::Live(_)) => syn::Error::new(
                span,
                format!(
                    "`defer!` cannot be used inside `{callee}(..)`: the spawned work may run after \
                     the response has left, too late to register a block. Call `defer!` in the \
                     handler's own body (it can capture what the task needs), or do the work at \
                     the end of the spawned task"
                ),
            )
            .to_compile_error(),
            _ => self
                .registrar
                .registration(mac.parse_body::<DeferInput>(), span),
        };
        let mut out = quote!();
        for attr in attrs {
            attr.to_tokens(&mut out);
        }
        out.extend(quote_spanned!(span=> #path!(@__after_response #registration)));
        out
    }
}

impl VisitMut for Rewriter<'_, '_> {
    fn visit_item_mut(&mut self, _nested: &mut Item) {}

    fn visit_stmt_mut(&mut self, stmt: &mut Stmt) {
        if let Stmt::Macro(statement) = stmt {
            if self.is_defer(&statement.mac) {
                // Statement position: the handle is discarded, whether or not a `;` follows.
                let tokens = self.rewrite(&statement.attrs, &statement.mac);
                *stmt = Stmt::Expr(Expr::Verbatim(tokens), Some(Semi::default()));
                return;
            }
            self.visit_macro_mut(&mut statement.mac);
            return;
        }
        visit_mut::visit_stmt_mut(self, stmt);
    }

    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        if let Expr::Call(call) = expr {
            if let Some(callee) = Self::spawn_callee(call) {
                let outer = self.spawn.replace(callee);
                visit_mut::visit_expr_call_mut(self, call);
                self.spawn = outer;
                return;
            }
        }
        if let Expr::Macro(expression) = expr {
            if self.is_defer(&expression.mac) {
                // Expression position: evaluates to the block's `DeferHandle`.
                *expr = Expr::Verbatim(self.rewrite(&expression.attrs, &expression.mac));
                return;
            }
        }
        visit_mut::visit_expr_mut(self, expr);
    }

    /// Another macro's input, such as `tokio::select!`'s arms: its `defer!` are found token by
    /// token. Input without any is left exactly as written.
    fn visit_macro_mut(&mut self, mac: &mut Macro) {
        let delimiter = match mac.delimiter {
            MacroDelimiter::Paren(_) => Delimiter::Parenthesis,
            MacroDelimiter::Brace(_) => Delimiter::Brace,
            MacroDelimiter::Bracket(_) => Delimiter::Bracket,
        };
        let before = self.registrar.found;
        let tokens = tokens::rewrite(mac.tokens.clone(), delimiter, self.registrar);
        if self.registrar.found > before {
            mac.tokens = tokens;
        }
    }
}
